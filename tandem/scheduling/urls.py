from django.urls import path

from tandem.scheduling import views

app_name = "scheduling"

urlpatterns = [
    path("patients/<str:public_id>/appointments/new/", views.book, name="book"),
    path("appointments/<str:appointment_id>/", views.appointment_detail, name="appointment"),
    path("appointments/<str:appointment_id>/cancel/", views.cancel, name="cancel"),
    path("appointments/<str:appointment_id>/move/", views.reschedule, name="reschedule"),
    path("appointments/<str:appointment_id>/no-show/", views.no_show, name="no_show"),
    path("appointments/<str:appointment_id>/complete/", views.complete, name="complete"),
    path("appointments/<str:appointment_id>/check-in/", views.check_in, name="check_in"),
    path("calendar/", views.week, name="week"),
]
