from django.urls import path

from tandem.organizations import views

app_name = "organizations"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("<str:org_id>/members/", views.members, name="members"),
    path("<str:org_id>/sharing/", views.sharing_policy, name="sharing_policy"),
    path("<str:org_id>/members/invite/", views.member_invite, name="member_invite"),
    path("<str:org_id>/members/<str:member_id>/role/", views.member_role, name="member_role"),
    path("<str:org_id>/members/<str:member_id>/active/", views.member_active, name="member_active"),
    path("<str:org_id>/members/<str:member_id>/reset-mfa/", views.member_reset_mfa, name="member_reset_mfa"),
]
