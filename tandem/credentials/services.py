"""Writing credentials: adding one, recording its verification. Atomic and audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.credentials import models as m

OPERATIONS = "operations"


def credential_add(*, actor: User, clinician: User, form: Any, meta: audit.RequestMeta) -> m.Credential:
    with transaction.atomic():
        credential: m.Credential = form.save(commit=False)
        credential.clinician = clinician
        credential.document_type = getattr(form, "document_type", "")
        credential.full_clean()
        credential.save()
        audit.record(
            actor=actor,
            action=Action.CREATE,
            purpose=OPERATIONS,
            meta=meta,
            target_type=type(credential).__name__,
            target_id=credential.public_id,
        )
    return credential


def credential_verify(*, actor: User, credential: m.Credential, source: str, meta: audit.RequestMeta) -> None:
    with transaction.atomic():
        credential.verified_by = actor
        credential.verified_at = timezone.now()
        credential.verification_source = source
        credential.save(update_fields=["verified_by", "verified_at", "verification_source"])
        audit.record(
            actor=actor,
            action=Action.UPDATE,
            purpose=OPERATIONS,
            meta=meta,
            target_type=type(credential).__name__,
            target_id=credential.public_id,
            detail={"verified_against": source[:200]},
        )


def profile_save(*, actor: User, form: Any, meta: audit.RequestMeta) -> m.ClinicianProfile:
    with transaction.atomic():
        profile: m.ClinicianProfile = form.save()
        audit.record(
            actor=actor,
            action=Action.UPDATE,
            purpose=OPERATIONS,
            meta=meta,
            target_type="ClinicianProfile",
            target_id=profile.user.public_id,
            detail={"fields": sorted(form.changed_data)},
        )
    return profile
