from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    # Back-office staff sign in through Tandem's own sign-in, with its second step.
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="accounts:sign_in", query_string=True),
        name="admin_login_redirect",
    ),
    path("admin/", admin.site.urls),
    path("accounts/", include("tandem.accounts.urls")),
    path("", include("tandem.messaging.urls")),
    path("", include("tandem.measures.urls")),
    path("", include("tandem.medications.urls")),
    path("", include("tandem.plans.urls")),
    path("patients/", include("tandem.patients.urls")),
    path("", include("tandem.consent.urls")),
    path("", include("tandem.records.urls")),
    path("", include("tandem.feeds.urls")),
    path("", include("tandem.scheduling.urls")),
    path("", include("tandem.reminders.urls")),
    path("", include("tandem.referrals.urls")),
    path("", include("tandem.video.urls")),
    path("organization/", include("tandem.organizations.urls")),
    path("audit/", include("tandem.audit.urls")),
    path("credentials/", include("tandem.credentials.urls")),
    path("", include("tandem.operations.urls")),
    path("", include("tandem.home.urls")),
]
