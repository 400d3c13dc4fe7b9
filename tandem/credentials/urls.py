from django.urls import path

from tandem.credentials import views

app_name = "credentials"

urlpatterns = [
    path("coverage/", views.coverage, name="coverage"),
    path("expiring/", views.expiring, name="expiring"),
    path("check/", views.check, name="check"),
    path("clinicians/<str:public_id>/", views.clinician, name="clinician"),
]
