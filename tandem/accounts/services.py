"""Sign-in, second factor, throttling, sessions and re-authentication."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass

import pyotp
import segno
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tandem.accounts.models import MfaDevice, RecoveryCode, SignInThrottle, User
from tandem.accounts.sessions import close_user_sockets
from tandem.audit import services as audit
from tandem.audit.models import Action

RECOVERY_CODE_COUNT = 10
TOTP_INTERVAL = 30
# Accept the previous and next 30-second step too: phone clocks drift.
TOTP_WINDOW = 1

SESSION_AUTH_AT = "tandem_auth_at"
SESSION_LAST_SEEN = "tandem_last_seen"
SESSION_MFA_AT = "tandem_mfa_at"
SESSION_SUDO_UNTIL = "tandem_sudo_until"
SESSION_PENDING_USER = "tandem_pending_user"
SESSION_PENDING_AT = "tandem_pending_at"
SESSION_ENROLL_SECRET = "tandem_enroll_secret"
PENDING_SECONDS = 300

GENERIC_SIGN_IN_ERROR = (
    "That email and password did not work, or sign-in is paused after too many attempts. "
    "Check them and try again in a few minutes."
)


# --- Throttling ------------------------------------------------------------------


def _throttle_keys(email: str, ip: str | None) -> list[str]:
    keys = [f"email:{email.strip().lower()[:254]}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def is_locked(email: str, ip: str | None) -> bool:
    now = timezone.now()
    return SignInThrottle.objects.filter(key__in=_throttle_keys(email, ip), locked_until__gt=now).exists()


def register_failure(email: str, ip: str | None) -> None:
    """Count a failure. The IP limit is wider so one office behind one
    address is not locked out by one person's typos."""
    now = timezone.now()
    limits = {"email": settings.LOGIN_FAILURE_LIMIT, "ip": settings.LOGIN_FAILURE_LIMIT * 4}
    with transaction.atomic():
        for key in _throttle_keys(email, ip):
            row, _ = SignInThrottle.objects.select_for_update().get_or_create(key=key)
            window_over = (
                row.last_failure_at and (now - row.last_failure_at).total_seconds() > settings.LOGIN_LOCKOUT_SECONDS
            )
            row.failures = 1 if window_over else row.failures + 1
            row.last_failure_at = now
            if row.failures >= limits[key.split(":", 1)[0]]:
                row.locked_until = now + datetime.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
                row.failures = 0
            row.save()


def clear_failures(email: str) -> None:
    SignInThrottle.objects.filter(key=f"email:{email.strip().lower()}").delete()


_DUMMY_HASH: str | None = None


def _spend_equal_time(password: str) -> None:
    """Hash a password for an unknown email so both answers take as long."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = make_password(secrets.token_urlsafe(16))
    check_password(password, _DUMMY_HASH)


def check_password_step(request: HttpRequest, email: str, password: str) -> User | None:
    """First factor. Returns the user, or None with the failure counted."""
    meta = audit.RequestMeta.from_request(request)
    if is_locked(email, meta.ip_address):
        _spend_equal_time(password)
        # Attempts during a lockout are recorded too: they are what a reviewer looks for.
        audit.record(
            actor=None,
            action=Action.SIGN_IN_FAILED,
            purpose="security",
            meta=meta,
            detail={"step": "password", "locked": True},
        )
        return None
    # For an unknown email Django's ModelBackend already hashes the password
    # once, as long as checking a real one takes: no extra hashing here.
    user = authenticate(request, username=email.strip().lower(), password=password)
    if user is None:
        register_failure(email, meta.ip_address)
        audit.record(
            # Who was tried, when the email names someone: what a reviewer of attacks needs.
            actor=User.objects.filter(email=email.strip().lower()).first(),
            action=Action.SIGN_IN_FAILED,
            purpose="security",
            meta=meta,
            detail={"step": "password"},
        )
        return None
    assert isinstance(user, User)
    return user


# --- TOTP ----------------------------------------------------------------------------------


class _Totp(pyotp.TOTP):
    # New enrollments get 160-bit secrets (pyotp.random_base32). Secrets of
    # 80 bits, the size many authenticator guides still show, are accepted so
    # that such keys keep working; pyotp refuses them by default.
    min_secret_length_bits = 80


def totp(secret: str) -> pyotp.TOTP:
    """The authenticator code generator for a stored secret."""
    return _Totp(secret, interval=TOTP_INTERVAL)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return totp(secret).provisioning_uri(name=user.email, issuer_name=settings.MFA_ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG markup: no image request, nothing leaves the page."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff", title="Authenticator QR code")


def _matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    generator = totp(secret)
    now = timezone.now().timestamp() if at is None else at
    current = int(now // TOTP_INTERVAL)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if secrets.compare_digest(generator.generate_otp(step), code):
            return step
    return None


def verify_totp(user: User, code: str) -> bool:
    """Check a code and burn its time step, so the same code never works twice."""
    with transaction.atomic():
        device = MfaDevice.objects.select_for_update().filter(user=user).first()
        if device is None:
            return False
        step = _matching_step(device.secret, code, timezone.now().timestamp())
        if step is None or step <= device.last_used_step:
            return False
        device.last_used_step = step
        device.save(update_fields=["last_used_step"])
        return True


def _hash_recovery_code(code: str, salt: str) -> str:
    # Recovery codes carry about 50 random bits, so a salted SHA-256 is enough;
    # a slow password hash would only slow down sign-in and issuing codes.
    return salt + "$" + hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _normalize_recovery_code(code: str) -> str:
    return code.strip().lower().replace(" ", "").replace("-", "")


def verify_recovery_code(user: User, code: str) -> bool:
    cleaned = _normalize_recovery_code(code)
    if not cleaned or len(cleaned) > 40:
        return False
    with transaction.atomic():
        for row in RecoveryCode.objects.select_for_update().filter(user=user, used_at__isnull=True):
            salt = row.code_hash.split("$", 1)[0]
            if secrets.compare_digest(_hash_recovery_code(cleaned, salt), row.code_hash):
                row.used_at = timezone.now()
                row.save(update_fields=["used_at"])
                return True
    return False


def _format_code(raw: str) -> str:
    return f"{raw[:5]}-{raw[5:]}"


def issue_recovery_codes(*, user: User) -> list[str]:
    """Replace every recovery code. The plain codes are shown once and never stored."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = ["".join(secrets.choice(alphabet) for _ in range(10)) for _ in range(RECOVERY_CODE_COUNT)]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            [RecoveryCode(user=user, code_hash=_hash_recovery_code(c, secrets.token_hex(8))) for c in codes]
        )
    return [_format_code(c) for c in codes]


def mfa_enroll(*, user: User, secret: str, code: str, meta: audit.RequestMeta) -> list[str] | None:
    """Confirm a new authenticator with a first code; returns fresh recovery codes."""
    step = _matching_step(secret, code, timezone.now().timestamp())
    if step is None:
        return None
    with transaction.atomic():
        MfaDevice.objects.filter(user=user).delete()
        MfaDevice.objects.create(user=user, secret=secret, last_used_step=step)
        codes = issue_recovery_codes(user=user)
        audit.record(
            actor=user,
            action=Action.MFA_ENROLL,
            purpose="security",
            meta=meta,
            target_type="user",
            target_id=user.public_id,
        )
    return codes


def mfa_reset(*, user: User, actor: User, meta: audit.RequestMeta) -> None:
    """Remove a user's authenticator and recovery codes: they enroll again at next sign-in."""
    with transaction.atomic():
        MfaDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        # Whoever holds a session made with the old authenticator is signed out.
        user.end_all_sessions()
        transaction.on_commit(lambda: close_user_sockets(user.pk, "mfa_reset"))
        audit.record(
            actor=actor,
            action=Action.MFA_RESET,
            purpose="security",
            meta=meta,
            target_type="user",
            target_id=user.public_id,
        )


def has_mfa(user: User) -> bool:
    return MfaDevice.objects.filter(user=user).exists()


# --- Session ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionState:
    expired: bool
    reason: str
    seconds_left: int


def session_state(session: dict[str, object], now: float | None = None) -> SessionState:
    """Where a signed-in session stands against the idle and absolute limits."""
    now = timezone.now().timestamp() if now is None else now
    auth_at = session.get(SESSION_AUTH_AT)
    last_seen = session.get(SESSION_LAST_SEEN)
    if (
        not isinstance(auth_at, (int, float))
        or not isinstance(last_seen, (int, float))
        or SESSION_MFA_AT not in session
    ):
        return SessionState(expired=True, reason="incomplete", seconds_left=0)
    idle_left = settings.IDLE_TIMEOUT_SECONDS - (now - last_seen)
    absolute_left = settings.SESSION_ABSOLUTE_SECONDS - (now - auth_at)
    if absolute_left <= 0:
        return SessionState(expired=True, reason="absolute", seconds_left=0)
    if idle_left <= 0:
        return SessionState(expired=True, reason="idle", seconds_left=0)
    return SessionState(expired=False, reason="", seconds_left=int(min(idle_left, absolute_left)))


def start_session_clock(session: dict[str, object]) -> None:
    now = timezone.now().timestamp()
    session[SESSION_AUTH_AT] = now
    session[SESSION_LAST_SEEN] = now
    session[SESSION_MFA_AT] = now


def sudo_active(session: dict[str, object]) -> bool:
    until = session.get(SESSION_SUDO_UNTIL)
    return isinstance(until, (int, float)) and until > timezone.now().timestamp()


def grant_sudo(session: dict[str, object]) -> None:
    session[SESSION_SUDO_UNTIL] = timezone.now().timestamp() + settings.SUDO_SECONDS
