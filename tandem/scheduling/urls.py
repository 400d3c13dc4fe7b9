from django.urls import path

from tandem.scheduling import availability_views, views

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
    path("calendar/availability/", availability_views.availability_page, name="availability"),
    path("calendar/availability/hours/", availability_views.hours_add, name="hours_add"),
    path("calendar/availability/hours/<str:hours_id>/remove/", availability_views.hours_remove, name="hours_remove"),
    path("calendar/availability/time-off/", availability_views.time_off_add, name="time_off_add"),
    path(
        "calendar/availability/time-off/<str:time_off_id>/remove/",
        availability_views.time_off_remove,
        name="time_off_remove",
    ),
    path("calendar/availability/rules/", availability_views.rules_save, name="rules_save"),
]
