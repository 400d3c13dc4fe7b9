from django.urls import path

from tandem.reminders import views

app_name = "reminders"

urlpatterns = [
    path("patients/<str:public_id>/reminders/", views.preference, name="preference"),
]
