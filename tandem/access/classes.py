"""The classes of health information. Every record in Tandem belongs to one,
and the patient's authorizations are written in terms of them."""

from __future__ import annotations

from django.db import models


class InfoClass(models.TextChoices):
    DEMOGRAPHICS = "demographics", "Demographics, contact and insurance"
    APPOINTMENTS = "appointments", "Appointments"
    PROGRESS_NOTES = "progress_notes", "Progress notes"
    MEDICATIONS = "medications", "Medication list"
    ASSESSMENTS = "assessments", "Assessments and scores"
    CARE_PLAN = "care_plan", "Treatment plan"
    DIAGNOSES = "diagnoses", "Diagnoses"
    PSYCHOTHERAPY_NOTES = "psychotherapy_notes", "Psychotherapy notes"
    PART2 = "part2", "Substance-use disorder records (42 CFR Part 2)"


# What ordinary coordination of care covers. Psychotherapy notes and Part 2
# records never travel on a treatment basis: each needs its own authorization.
TREATMENT_CLASSES: tuple[str, ...] = (
    InfoClass.DEMOGRAPHICS,
    InfoClass.APPOINTMENTS,
    InfoClass.PROGRESS_NOTES,
    InfoClass.MEDICATIONS,
    InfoClass.ASSESSMENTS,
    InfoClass.CARE_PLAN,
    InfoClass.DIAGNOSES,
)
SPECIALLY_PROTECTED: tuple[str, ...] = (InfoClass.PSYCHOTHERAPY_NOTES, InfoClass.PART2)

# Classes a filed chart record may carry (demographics live on the patient row;
# psychotherapy notes are kept in their own table).
RECORD_CLASSES: tuple[str, ...] = tuple(c for c in TREATMENT_CLASSES if c != InfoClass.DEMOGRAPHICS)


def label(value: str) -> str:
    return str(InfoClass(value).label)


# Sent with every Part 2 record that crosses to another organization (42 CFR 2.32).
# Wording drafted for the privacy officer's review, like the consent templates.
PART2_NOTICE = (
    "This record comes from a substance-use disorder program and is protected by federal confidentiality "
    "rules (42 CFR Part 2). You may not use it, or testimony about what it says, in any civil, criminal, "
    "administrative or legislative proceeding against the patient unless the patient consents in writing "
    "or a court orders it under 42 CFR Part 2. Any other use or disclosure must follow those rules."
)
