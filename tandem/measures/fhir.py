"""Scores as FHIR R4 resources: each complete response is a
QuestionnaireResponse (the answers) and an Observation (the score), the
Observation coded with the instrument's LOINC total code (never the panel
code) and derived from the answers. Instruments with no confirmed LOINC code
use Tandem's own code system, so nothing is coded wrongly."""

from __future__ import annotations

from typing import Any

from tandem.measures import instruments
from tandem.measures.models import Response

LOINC = "http://loinc.org"
TANDEM_INSTRUMENTS = "urn:tandem:instrument"


def questionnaire_response(response: Response) -> dict[str, Any]:
    instrument = instruments.get(response.instrument)
    items = []
    for item in instrument.items:
        choice = response.answers.get(item.id)
        if choice is None:
            continue
        items.append(
            {
                "linkId": item.id,
                "text": item.text.get(response.language, item.text["en"]),
                "answer": [
                    {
                        "valueCoding": {
                            "system": f"{TANDEM_INSTRUMENTS}:{instrument.key}:options",
                            "code": str(choice),
                            "display": item.options[choice].get(response.language, item.options[choice]["en"]),
                        }
                    }
                ],
            }
        )
    return {
        "resourceType": "QuestionnaireResponse",
        "id": str(response.public_id),
        "questionnaire": f"{TANDEM_INSTRUMENTS}:{instrument.key}|{response.instrument_version}",
        "status": "completed" if response.is_complete else "in-progress",
        "subject": {"reference": f"Patient/{response.patient.public_id}"},
        "authored": (response.completed_at or response.started_at).isoformat(),
        "item": items,
    }


def observation(response: Response) -> dict[str, Any]:
    """The score; only for a complete response."""
    if not response.is_complete or response.total is None or response.completed_at is None:
        raise ValueError("Only a complete response has a score.")
    instrument = instruments.get(response.instrument)
    if instrument.loinc_total and instrument.loinc_verified:
        coding = {"system": LOINC, "code": instrument.loinc_total, "display": f"{instrument.short_name} total score"}
    else:
        coding = {
            "system": TANDEM_INSTRUMENTS,
            "code": f"{instrument.key}-total",
            "display": f"{instrument.short_name} total score",
        }
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{response.public_id}-score",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                        "display": "Survey",
                    }
                ]
            }
        ],
        "code": {"coding": [coding], "text": f"{instrument.short_name} total score"},
        "subject": {"reference": f"Patient/{response.patient.public_id}"},
        "effectiveDateTime": response.completed_at.isoformat(),
        "valueInteger": response.total,
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{response.public_id}"}],
    }
    if response.band:
        resource["interpretation"] = [{"text": response.band}]
    return resource
