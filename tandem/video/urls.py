from django.urls import path

from tandem.video import views

app_name = "video"

urlpatterns = [
    path("appointments/<str:appointment_id>/video/", views.room, name="room"),
    path("appointments/<str:appointment_id>/video/patient-link/", views.patient_link, name="patient_link"),
    path("video/join/<str:token>/", views.patient, name="patient"),
]

# The pre-call check: any signed-in clinician, and the patient through their link.
urlpatterns += [
    path("video/check/", views.check, name="check"),
    path("video/join/<str:token>/check/", views.patient_check, name="patient_check"),
]
