from django.contrib.auth import views as auth_views
from django.urls import path

from tandem.accounts import views

app_name = "accounts"

urlpatterns = [
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-in/code/", views.mfa_verify, name="mfa_verify"),
    path("sign-in/enroll/", views.mfa_enroll, name="mfa_enroll"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("signed-out/", views.signed_out, name="signed_out"),
    path("session/status", views.session_status, name="session_status"),
    path("session/keepalive", views.session_keepalive, name="session_keepalive"),
    path("confirm/", views.sudo, name="sudo"),
    path("security/", views.security, name="security"),
    path("security/recovery-codes/", views.regenerate_recovery_codes, name="regenerate_recovery_codes"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
]
