from django.urls import path

from tandem.messaging import views

app_name = "messaging"

urlpatterns = [
    path("notifications/", views.preferences, name="preferences"),
]
