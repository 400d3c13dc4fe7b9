from django.urls import path

from tandem.feeds import views

app_name = "feeds"

urlpatterns = [
    path("calendar/feed/", views.manage, name="manage"),
    path("calendar/feed/new/", views.create, name="create"),
    path("calendar/feed/revoke/", views.revoke, name="revoke"),
    path("calendar/feed/<str:token>.ics", views.ics, name="ics"),
]
