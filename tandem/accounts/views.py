"""Sign-in with password and TOTP, enrollment, sign-out, re-authentication."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts import services
from tandem.accounts.forms import CodeForm, EnrollForm, SignInForm, SudoForm
from tandem.accounts.models import User
from tandem.accounts.sessions import close_user_sockets, end_session
from tandem.audit import services as audit
from tandem.audit.models import Action

SIGNED_OUT_REASONS = {
    "idle": "You were signed out after a period of inactivity, to protect patient information.",
    "absolute": "Your session reached its time limit. Sign in again to continue.",
    "incomplete": "Please sign in again.",
    "user": "You are signed out.",
    "mfa_reset": "Your sign-in authenticator was reset by an administrator. Sign in again to set up a new one.",
    "password_reset": "Your password was changed, so every session was signed out. Sign in with the new password.",
}


def _safe_next(request: HttpRequest, fallback: str = "home:today") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse(fallback)


def _pending_user(request: HttpRequest) -> User | None:
    user_id = request.session.get(services.SESSION_PENDING_USER)
    started = request.session.get(services.SESSION_PENDING_AT, 0)
    if user_id is None or timezone.now().timestamp() - float(started) > services.PENDING_SECONDS:
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home:today")
    form = SignInForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        user = services.check_password_step(request, form.cleaned_data["email"], form.cleaned_data["password"])
        if user is not None:
            request.session.cycle_key()
            request.session[services.SESSION_PENDING_USER] = user.pk
            request.session[services.SESSION_PENDING_AT] = timezone.now().timestamp()
            step = "accounts:mfa_verify" if services.has_mfa(user) else "accounts:mfa_enroll"
            return redirect(reverse(step) + "?" + urlencode({"next": _safe_next(request)}))
        error = services.GENERIC_SIGN_IN_ERROR
    return render(
        request,
        "accounts/sign_in.html",
        {"form": form, "error": error, "next": _safe_next(request)},
        status=400 if error or form.errors else 200,
    )


def _complete_sign_in(request: HttpRequest, user: User) -> None:
    for key in (services.SESSION_PENDING_USER, services.SESSION_PENDING_AT, services.SESSION_ENROLL_SECRET):
        request.session.pop(key, None)
    # login() rotates the session key, so a key fixed before sign-in is useless after.
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    services.start_session_clock(request.session)
    services.clear_failures(user.email)
    audit.record(actor=user, action=Action.SIGN_IN, purpose="security", meta=audit.RequestMeta.from_request(request))


@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("accounts:sign_in")
    if not services.has_mfa(user):
        return redirect("accounts:mfa_enroll")
    form = CodeForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST":
        meta = audit.RequestMeta.from_request(request)
        if services.is_locked(user.email, meta.ip_address):
            audit.record(
                actor=user,
                action=Action.SIGN_IN_FAILED,
                purpose="security",
                meta=meta,
                detail={"step": "second_factor", "locked": True},
            )
            error = services.GENERIC_SIGN_IN_ERROR
        elif form.is_valid():
            code = form.cleaned_data["code"]
            if services.verify_totp(user, code) or services.verify_recovery_code(user, code):
                _complete_sign_in(request, user)
                return redirect(_safe_next(request))
            services.register_failure(user.email, meta.ip_address)
            audit.record(
                actor=user,
                action=Action.SIGN_IN_FAILED,
                purpose="security",
                meta=meta,
                detail={"step": "second_factor"},
            )
            error = "That code did not work. Codes change every 30 seconds and each works once."
    return render(
        request,
        "accounts/mfa_verify.html",
        {"form": form, "error": error, "next": _safe_next(request)},
        status=400 if (error or form.errors) else 200,
    )


@require_http_methods(["GET", "POST"])
def mfa_enroll(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("accounts:sign_in")
    if services.has_mfa(user):
        return redirect("accounts:mfa_verify")
    secret = request.session.get(services.SESSION_ENROLL_SECRET)
    if not isinstance(secret, str):
        secret = services.new_totp_secret()
        request.session[services.SESSION_ENROLL_SECRET] = secret
    form = EnrollForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        codes = services.mfa_enroll(
            user=user, secret=secret, code=form.cleaned_data["code"], meta=audit.RequestMeta.from_request(request)
        )
        if codes is not None:
            _complete_sign_in(request, user)
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _safe_next(request)})
        error = "That code did not match. Check your phone's clock and enter the code now showing."
    uri = services.provisioning_uri(user, secret)
    context = {
        "form": form,
        "error": error,
        "qr_svg": services.qr_svg(uri),
        "secret": secret,
        "next": _safe_next(request),
    }
    return render(request, "accounts/mfa_enroll.html", context, status=400 if (error or form.errors) else 200)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        end_session(request, reason="user")
    return redirect(reverse("accounts:signed_out") + "?reason=user")


@require_GET
def signed_out(request: HttpRequest) -> HttpResponse:
    reason = request.GET.get("reason", "user")
    message = SIGNED_OUT_REASONS.get(reason, SIGNED_OUT_REASONS["user"])
    return render(
        request,
        "accounts/signed_out.html",
        {"message": message, "reason": reason if reason in SIGNED_OUT_REASONS else "user"},
    )


@require_GET
def session_status(request: HttpRequest) -> HttpResponse:
    """Polled by the page to warn before, and act on, automatic logoff. Not activity."""
    if not request.user.is_authenticated:
        return JsonResponse(
            {"signed_in": False, "redirect": reverse("accounts:signed_out") + "?reason=idle"}, status=401
        )
    state = services.session_state(request.session)
    return JsonResponse({"signed_in": True, "seconds_left": state.seconds_left})


@require_POST
def session_keepalive(request: HttpRequest) -> HttpResponse:
    """The user typed or clicked: the middleware has already counted it as activity."""
    if not request.user.is_authenticated:
        # A JSON answer the page acts on, not a redirect it would follow blindly.
        return JsonResponse(
            {"signed_in": False, "redirect": reverse("accounts:signed_out") + "?reason=idle"}, status=401
        )
    state = services.session_state(request.session)
    return JsonResponse({"signed_in": True, "seconds_left": state.seconds_left})


def sudo_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Sensitive actions need the password and a fresh code again."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not services.sudo_active(request.session):
            target = (
                request.get_full_path()
                if request.method == "GET"
                else request.headers.get("Referer", "") or reverse("home:today")
            )
            return redirect(reverse("accounts:sudo") + "?" + urlencode({"next": target}))
        return view(request, *args, **kwargs)

    return wrapper


@require_http_methods(["GET", "POST"])
@login_required
def sudo(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    form = SudoForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        meta = audit.RequestMeta.from_request(request)
        if services.is_locked(user.email, meta.ip_address):
            error = services.GENERIC_SIGN_IN_ERROR
        elif user.check_password(form.cleaned_data["password"]) and services.verify_totp(
            user, form.cleaned_data["code"]
        ):
            services.grant_sudo(request.session)
            audit.record(actor=user, action=Action.SUDO, purpose="security", meta=meta)
            return redirect(_safe_next(request))
        else:
            services.register_failure(user.email, meta.ip_address)
            audit.record(
                actor=user, action=Action.SIGN_IN_FAILED, purpose="security", meta=meta, detail={"step": "sudo"}
            )
            error = "The password or code did not work."
    return render(
        request,
        "accounts/sudo.html",
        {"form": form, "error": error, "next": _safe_next(request)},
        status=400 if (error or form.errors) else 200,
    )


@require_GET
@login_required
def security(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    remaining = user.recovery_codes.filter(used_at__isnull=True).count()
    return render(request, "accounts/security.html", {"remaining_codes": remaining})


@require_POST
@login_required
@sudo_required
def regenerate_recovery_codes(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    codes = services.issue_recovery_codes(user=user)
    audit.record(
        actor=user,
        action=Action.MFA_ENROLL,
        purpose="security",
        meta=audit.RequestMeta.from_request(request),
        detail={"recovery_codes": "regenerated"},
    )
    messages.success(request, "New recovery codes issued. The old ones no longer work.")
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": reverse("accounts:security")})


class ResetForm(PasswordResetForm):
    def get_users(self, email: str) -> Iterator[Any]:
        """Also people invited who never chose a password: Django's form skips
        them, which would strand anyone whose invitation link expired."""
        yield from User.objects.filter(email__iexact=email.strip(), is_active=True)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.user
        # Django drops the user's other sessions itself: their stored hash of
        # the password no longer matches. The lockout ends with the reset too.
        services.clear_failures(user.email)
        audit.record(
            actor=user,
            action=Action.PASSWORD_RESET,
            purpose="security",
            meta=audit.RequestMeta.from_request(self.request),
        )
        # Those sessions' open sockets are told to close as well.
        close_user_sockets(user.pk, "password_reset")
        return response
