from django.urls import path, re_path

from tandem.referrals import metrics_views, views

app_name = "referrals"

urlpatterns = [
    path("referrals/", views.queue, name="queue"),
    path("referrals/metrics/", metrics_views.metrics, name="metrics"),
    path("referrals/metrics.csv", metrics_views.metrics_csv, name="metrics_csv"),
    path("patients/<str:public_id>/referrals/new/", views.new, name="new"),
    path("referrals/<str:public_id>/", views.detail, name="detail"),
    path("referrals/<str:public_id>/edit/", views.edit, name="edit"),
    re_path(
        r"^referrals/(?P<public_id>[^/]+)/(?P<name>submit|triage|book|offer|release|decline|cancel)/$",
        views.act,
        name="act",
    ),
]
