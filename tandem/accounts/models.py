"""People who sign in, their second factor, and sign-in throttling."""

from __future__ import annotations

import secrets
import uuid
import zoneinfo

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.crypto import salted_hmac


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone.")


def new_security_stamp() -> str:
    return secrets.token_hex(16)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who signs in: clinicians, administrators, back-office staff.

    What a user may do comes from their organization memberships, never from
    fields here; ``is_staff`` only opens Django admin for back-office work.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=150)
    credentials = models.CharField(max_length=40, blank=True, help_text="Shown after the name, for example LPC or MD.")
    timezone = models.CharField(max_length=64, default="America/Los_Angeles", validators=[validate_timezone])
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=dj_timezone.now)
    # Part of what signs every session of this user: replacing it signs them
    # all out at once (after an authenticator reset, for one).
    security_stamp = models.CharField(max_length=32, default=new_security_stamp, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return f"{self.full_name}, {self.credentials}" if self.credentials else self.full_name

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django signs sessions with the password hash alone; adding the stamp
        # lets Tandem end every session without a password change.
        key_salt = "tandem.accounts.User.session_auth_hash"
        return salted_hmac(key_salt, self.password + self.security_stamp, secret=secret, algorithm="sha256").hexdigest()

    def end_all_sessions(self) -> None:
        self.security_stamp = new_security_stamp()
        self.save(update_fields=["security_stamp"])

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class MfaDevice(models.Model):
    """A confirmed TOTP authenticator. One per user."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="mfa_device")
    secret = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField(default=dj_timezone.now)
    # The highest 30-second step ever accepted: a code from this step or an
    # earlier one is a replay and is refused.
    last_used_step = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Authenticator of {self.user_id}"


class RecoveryCode(models.Model):
    """A single-use recovery code, stored as a hash like a password."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=200)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Recovery code of {self.user_id}"


class SignInThrottle(models.Model):
    """Failure counts per sign-in key (an email address or an IP address).

    Keys are kept whether or not the email belongs to anyone, so a locked
    unknown address answers exactly like a locked known one.
    """

    key = models.CharField(max_length=300, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key
