from django.urls import path

from tandem.consent import views

app_name = "consent"

urlpatterns = [
    path("patients/<str:public_id>/consent/", views.authorization_list, name="list"),
    path("patients/<str:public_id>/consent/new/<str:template_key>/", views.authorization_new, name="new"),
    path("patients/<str:public_id>/consent/<str:authorization_id>/", views.authorization_detail, name="detail"),
    path("patients/<str:public_id>/consent/<str:authorization_id>/send/", views.send_link, name="send"),
    path("patients/<str:public_id>/consent/<str:authorization_id>/sign/", views.office_sign, name="office_sign"),
    path("patients/<str:public_id>/consent/<str:authorization_id>/signed.pdf", views.authorization_pdf, name="pdf"),
    path("patients/<str:public_id>/consent/<str:authorization_id>/email/", views.email_copy, name="email_copy"),
    path("patients/<str:public_id>/consent/<str:authorization_id>/revoke/", views.revoke, name="revoke"),
    path("patients/<str:public_id>/consent/<str:authorization_id>/event/", views.expiry_event, name="expiry_event"),
    path("patients/<str:public_id>/emergency-access/", views.break_glass, name="break_glass"),
    path("patients/<str:public_id>/disclosures/", views.disclosures, name="disclosures"),
    path("patients/<str:public_id>/disclosures.pdf", views.disclosures_pdf, name="disclosures_pdf"),
    path("privacy/emergency-access/", views.break_glass_review, name="break_glass_review"),
    path("privacy/emergency-access/<str:grant_id>/", views.break_glass_signoff, name="break_glass_signoff"),
    path("sign/<str:token>/", views.patient_sign, name="sign"),
    path("sign/<str:token>/copy.pdf", views.patient_copy, name="sign_copy"),
]
