from django.urls import path

from tandem.patients import views

app_name = "patients"

urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_create, name="create"),
    path("<str:public_id>/", views.patient_chart, name="chart"),
    path("<str:public_id>/edit/", views.patient_edit, name="edit"),
    path("<str:public_id>/care-team/", views.care_team_add, name="care_team_add"),
    path("<str:public_id>/care-team/<str:member_id>/end/", views.care_team_end, name="care_team_end"),
]
