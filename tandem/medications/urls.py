from django.urls import path

from tandem.medications import views

app_name = "medications"

urlpatterns = [
    path("medications/catalog/", views.catalog, name="catalog"),
    path("patients/<str:public_id>/medications/", views.medication_list, name="list"),
    path("patients/<str:public_id>/medications/start/", views.start, name="start"),
    path("patients/<str:public_id>/medications/pdmp/", views.pdmp, name="pdmp"),
    path("patients/<str:public_id>/medications/labs/", views.labs, name="labs"),
    path("patients/<str:public_id>/medications/observations/", views.observe, name="observe"),
    path(
        "patients/<str:public_id>/medications/prescriptions/<str:prescription_id>/",
        views.prescription,
        name="prescription",
    ),
    path("patients/<str:public_id>/medications/<str:medication_id>/", views.detail, name="detail"),
    path("patients/<str:public_id>/medications/<str:medication_id>/change/", views.change, name="change"),
    path("patients/<str:public_id>/medications/<str:medication_id>/prescribe/", views.prescribe, name="prescribe"),
]
