from django.urls import path

from tandem.video import views

app_name = "video"

urlpatterns = [
    path("appointments/<str:appointment_id>/video/", views.room, name="room"),
    path("appointments/<str:appointment_id>/video/patient-link/", views.patient_link, name="patient_link"),
    path("video/join/<str:token>/", views.patient, name="patient"),
]
