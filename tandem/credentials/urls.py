from django.urls import path

from tandem.credentials import views

app_name = "credentials"

urlpatterns = [
    path("coverage/", views.coverage, name="coverage"),
    path("expiring/", views.expiring, name="expiring"),
    path("check/", views.check, name="check"),
    path("clinicians/<str:public_id>/", views.clinician, name="clinician"),
    path("clinicians/<str:public_id>/profile/", views.profile, name="profile"),
    path("clinicians/<str:public_id>/add/<str:kind>/", views.add, name="add"),
    path("clinicians/<str:public_id>/<str:kind>/<str:credential_id>/verify/", views.verify, name="verify"),
    path("clinicians/<str:public_id>/<str:kind>/<str:credential_id>/document", views.document, name="document"),
]
