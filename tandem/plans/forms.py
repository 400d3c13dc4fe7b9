"""Forms of the diagnosis and plan pages. Choices come from the reviewed data
files; the services check everything again."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms

from tandem.measures import instruments
from tandem.plans import diagnoses
from tandem.plans.acknowledgement import NAME_MAX
from tandem.plans.criteria import CriteriaSet
from tandem.plans.models import (
    NOTE_MAX,
    SIGNING_DISCIPLINES,
    SUMMARY_MAX,
    TEXT_MAX,
    Comparison,
    DiagnosisStatus,
    Discipline,
    GoalStatus,
    InterventionStatus,
)

DATE = forms.DateInput(attrs={"type": "date"})


class TokenForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class DiagnosisForm(TokenForm):
    code = forms.ChoiceField(label="Diagnosis (ICD-10-CM, DSM-5-TR name)", choices=())
    status = forms.ChoiceField(
        label="Status",
        choices=[(s.value, s.label) for s in (DiagnosisStatus.PROVISIONAL, DiagnosisStatus.CONFIRMED)],
        widget=forms.RadioSelect,
        initial=DiagnosisStatus.PROVISIONAL,
    )
    diagnosed_on = forms.DateField(label="Date of diagnosis", widget=DATE)
    note = forms.CharField(label="Note", max_length=NOTE_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    part2 = forms.BooleanField(label="Made by a Part 2 substance-use disorder program (42 CFR Part 2)", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [("", "Choose a diagnosis"), *diagnoses.choices()]  # type: ignore[attr-defined]


class StatusForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=DiagnosisStatus.choices)


class CriteriaForm(forms.Form):
    """One checkbox per criterion, grouped as the checklist groups them."""

    def __init__(self, *args: Any, checklist: CriteriaSet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checklist = checklist
        for c in checklist.criteria:
            self.fields[f"c_{c.id}"] = forms.BooleanField(label=f"{c.id}. {c.text}", required=False)

    def met(self) -> list[str]:
        return [name.removeprefix("c_") for name, value in self.cleaned_data.items() if value]

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        out: dict[str, list[forms.BoundField]] = {}
        for c in self.checklist.criteria:
            out.setdefault(c.group, []).append(self[f"c_{c.id}"])
        return list(out.items())


class OverviewForm(forms.Form):
    revision = forms.IntegerField(widget=forms.HiddenInput)
    summary = forms.CharField(
        label="Presenting problems and what the patient wants from care",
        max_length=SUMMARY_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    review_on = forms.DateField(label="Review by", widget=DATE)
    change_note = forms.CharField(label="What changed and why", max_length=TEXT_MAX, required=False)
    refresh_diagnoses = forms.BooleanField(
        label="Bring the diagnoses up to date from the problem list", required=False, initial=True
    )


def instrument_choices() -> list[tuple[str, str]]:
    return [("", "Not tied to a questionnaire")] + [
        (i.key, i.short_name) for i in sorted(instruments.all_instruments().values(), key=lambda i: i.short_name)
    ]


class GoalForm(forms.Form):
    text = forms.CharField(label="Goal", max_length=TEXT_MAX)
    discipline = forms.ChoiceField(label="Owned by", choices=Discipline.choices)
    target_date = forms.DateField(label="Target date", required=False, widget=DATE)
    instrument = forms.ChoiceField(label="Measured by", required=False, choices=())
    comparison = forms.ChoiceField(label="Target", required=False, choices=[("", "—"), *Comparison.choices])
    target_score = forms.IntegerField(label="Target score", required=False, min_value=0, max_value=200)
    status = forms.ChoiceField(label="Status", choices=GoalStatus.choices, initial=GoalStatus.ACTIVE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = instrument_choices()  # type: ignore[attr-defined]


class InterventionForm(forms.Form):
    text = forms.CharField(
        label="Intervention", max_length=TEXT_MAX, help_text="For example: CBT, sertraline titration"
    )
    discipline = forms.ChoiceField(label="Delivered by", choices=[(d.value, d.label) for d in SIGNING_DISCIPLINES])
    owner = forms.ChoiceField(label="Clinician", choices=())
    frequency = forms.CharField(label="How often", max_length=100, help_text="For example: weekly, every 4 weeks")
    status = forms.ChoiceField(label="Status", choices=InterventionStatus.choices, initial=InterventionStatus.ACTIVE)

    def __init__(self, *args: Any, team: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = team  # type: ignore[attr-defined]


class AcknowledgeForm(forms.Form):
    typed_name = forms.CharField(label="The patient's name, as they type or say it", max_length=NAME_MAX)


class PatientAcknowledgeForm(forms.Form):
    agree = forms.BooleanField(label="I have read my treatment plan and I agree to work on it with my care team")
    typed_name = forms.CharField(label="Type your full name", max_length=NAME_MAX)


class SendLinkForm(forms.Form):
    channel = forms.ChoiceField(
        label="Send by", choices=[("email", "Email"), ("sms", "Text message")], widget=forms.RadioSelect
    )
