from django.urls import path

from tandem.messaging import views

app_name = "messaging"

urlpatterns = [
    path("notifications/", views.preferences, name="preferences"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.inbox_read_all, name="inbox_read_all"),
]
