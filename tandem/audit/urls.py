from django.urls import path

from tandem.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.report, name="report"),
    path("export.csv", views.export, name="export"),
    path("patients/<str:public_id>/", views.patient_access, name="patient_access"),
]
