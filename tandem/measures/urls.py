from django.urls import path

from tandem.measures import views

app_name = "measures"

urlpatterns = [
    path("registry/", views.registry_view, name="registry"),
    path("case-review/", views.case_review, name="case_review"),
    path("patients/<str:public_id>/measures/", views.response_list, name="list"),
    path("patients/<str:public_id>/measures/send/", views.send_link, name="send_link"),
    path("patients/<str:public_id>/measures/schedule/", views.schedule, name="schedule"),
    path("q/<str:token>/", views.patient_link, name="patient"),
    path("patients/<str:public_id>/measures/alerts/<str:alert_id>/", views.alert_detail, name="alert"),
    path("patients/<str:public_id>/measures/<str:instrument_key>/new/", views.administer, name="administer"),
]
