from django.urls import path

from tandem.plans import views

app_name = "plans"

urlpatterns = [
    path("patients/<str:public_id>/diagnoses/", views.diagnosis_list, name="diagnoses"),
    path("patients/<str:public_id>/diagnoses/<str:diagnosis_id>/", views.diagnosis_detail, name="diagnosis"),
    path("patients/<str:public_id>/plan/", views.plan, name="plan"),
    path("patients/<str:public_id>/plan/draft/", views.start_draft, name="start_draft"),
    path("patients/<str:public_id>/plan/v<str:number>/", views.version_detail, name="version"),
    path("patients/<str:public_id>/plan/v<str:number>/edit/", views.edit, name="edit"),
    path("patients/<str:public_id>/plan/v<str:number>/sign/", views.sign, name="sign"),
    path("patients/<str:public_id>/plan/v<str:number>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("patients/<str:public_id>/plan/v<str:number>/send/", views.send_link, name="send_link"),
    path("patients/<str:public_id>/plan/v<str:number>/pdf/", views.version_pdf, name="pdf"),
    path("plan/<str:token>/", views.patient_link, name="patient_link"),
]
