from django.urls import path

from tandem.home import views

app_name = "home"

urlpatterns = [
    path("", views.root, name="root"),
    path("today/", views.today, name="today"),
]
