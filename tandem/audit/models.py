"""The append-only, hash-chained audit trail.

Rows hold plain copies of who, what and whom rather than foreign keys, so the
trail outlives the rows it describes and can never block or cascade a delete.
"""

from __future__ import annotations

from django.db import models


class Action(models.TextChoices):
    VIEW = "view", "Viewed"
    LIST = "list", "Listed"
    SEARCH = "search", "Searched"
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Removed"
    EXPORT = "export", "Exported"
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    SIGN_OUT = "sign_out", "Signed out"
    MFA_ENROLL = "mfa_enroll", "Enrolled a second factor"
    MFA_RESET = "mfa_reset", "Reset a second factor"
    PASSWORD_RESET = "password_reset", "Reset a password"
    ROLE_CHANGE = "role_change", "Changed a role"
    SUDO = "sudo", "Confirmed identity"
    SEND = "send", "Sent"
    SIGN = "sign", "Signed"
    REVOKE = "revoke", "Revoked"
    EMERGENCY_ACCESS = "emergency_access", "Used emergency access"
    REVIEW = "review", "Reviewed"


class AuditEvent(models.Model):
    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    patient_id = models.UUIDField(null=True, blank=True, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["patient_id", "-seq"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_type}"
