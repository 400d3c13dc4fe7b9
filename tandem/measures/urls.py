from django.urls import path

from tandem.measures import views

app_name = "measures"

urlpatterns = [
    path("patients/<str:public_id>/measures/", views.response_list, name="list"),
    path("patients/<str:public_id>/measures/alerts/<str:alert_id>/", views.alert_detail, name="alert"),
    path("patients/<str:public_id>/measures/<str:instrument_key>/new/", views.administer, name="administer"),
]
