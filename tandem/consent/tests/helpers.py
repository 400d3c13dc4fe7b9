"""Shared steps for the consent tests."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tandem.access.classes import TREATMENT_CLASSES
from tandem.audit.services import RequestMeta
from tandem.consent import services
from tandem.consent.models import Authorization
from tandem.test import Cast

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")


def prepare(cast: Cast, template_key: str = "coordination", **overrides: object) -> Authorization:
    fields: dict[str, object] = {
        "actor": cast.therapist,
        "patient": cast.patient,
        "template_key": template_key,
        "discloser": cast.riverbend,
        "recipient": cast.northstar,
        "mutual": template_key == "coordination",
        "classes": {"coordination": list(TREATMENT_CLASSES), "psychotherapy_notes": ["psychotherapy_notes"]}.get(
            template_key, ["part2"] if template_key == "part2" else []
        ),
        "purpose": "Coordination of care between the therapist and the psychiatric prescriber",
        "expires_on": cast.riverbend.local_date().replace(year=cast.riverbend.local_date().year + 1),
        "expiry_event": "",
        "meta": META,
    }
    if template_key == "psychotherapy_notes":
        fields["recipient_clinician"] = cast.prescriber
    if template_key == "telehealth":
        fields["cost_sharing"] = "About $12 a month in coinsurance under your plan."
    fields.update(overrides)
    return services.prepare(**fields)  # type: ignore[arg-type]


def sign(authorization: Authorization, **overrides: object) -> Authorization:
    fields: dict[str, object] = {
        "authorization": authorization,
        "signature": services.Signature(name="Avery Quintero", agreed=True, role="patient"),
        "via": "office",
        "ip_address": "127.0.0.1",
        "meta": META,
    }
    fields.update(overrides)
    return services.sign(**fields)  # type: ignore[arg-type]


def pdf_text(content: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return " ".join(text.split())
