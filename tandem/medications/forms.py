"""Forms of the medication pages. Choices come from the reviewed catalog and
monitoring files; the services check everything again."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils import timezone

from tandem.credentials import rules
from tandem.lib.us_states import US_STATES
from tandem.medications import monitoring
from tandem.medications.models import REASON_MAX, SIG_MAX, TEXT_MAX, ChangeKind, ObservationKind, PdmpOutcome
from tandem.medications.prescribing import DAYS_MAX, PHARMACY_MAX, QUANTITY_MAX


class TokenForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


def drug_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for drug in sorted(rules.current().drugs.values(), key=lambda d: (d.drug_class, d.display)):
        label = drug.display + (f" (C-{drug.schedule})" if drug.schedule else "")
        groups.setdefault(drug.drug_class, []).append((drug.name, label))
    return sorted(groups.items())


def form_choices() -> list[tuple[str, str]]:
    forms_seen = sorted({f for d in rules.current().drugs.values() for f in d.forms})
    return [(f, f) for f in forms_seen]


class StartForm(TokenForm):
    drug = forms.ChoiceField(label="Drug", choices=())
    form = forms.ChoiceField(label="Form", choices=())
    dose = forms.DecimalField(label="Dose per administration", min_value=0, max_digits=9, decimal_places=3)
    sig = forms.CharField(label="Directions", max_length=SIG_MAX, help_text="For example: 1 tablet by mouth once daily")
    indication = forms.CharField(label="For", max_length=200, required=False)
    started_on = forms.DateField(label="Start date", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label="Why it is started", max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    part2 = forms.BooleanField(
        label="Substance-use disorder treatment from a Part 2 program (42 CFR Part 2)", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["drug"].choices = [("", "Choose a drug"), *drug_choices()]  # type: ignore[attr-defined]
        self.fields["form"].choices = form_choices()  # type: ignore[attr-defined]
        self.fields["started_on"].initial = timezone.localdate()


class ChangeForm(TokenForm):
    kind = forms.ChoiceField(
        label="Change",
        choices=[(k.value, k.label) for k in ChangeKind if k != ChangeKind.START],
        widget=forms.RadioSelect,
    )
    dose = forms.DecimalField(
        label="New dose per administration",
        min_value=0,
        max_digits=9,
        decimal_places=3,
        required=False,
        help_text="For a dose change or a taper; optional when resuming.",
    )
    sig = forms.CharField(label="New directions", max_length=SIG_MAX, required=False)
    reason = forms.CharField(label="Reason", max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    effective_on = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["effective_on"].initial = timezone.localdate()


class PrescriptionForm(TokenForm):
    strength = forms.ChoiceField(label="Strength", choices=())
    form = forms.ChoiceField(label="Form", choices=())
    sig = forms.CharField(label="Directions (sig)", max_length=SIG_MAX)
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=QUANTITY_MAX)
    days_supply = forms.IntegerField(label="Days' supply", min_value=1, max_value=DAYS_MAX)
    refills = forms.IntegerField(label="Refills", min_value=0, max_value=11, initial=0)
    pharmacy = forms.CharField(
        label="Pharmacy", max_length=PHARMACY_MAX, help_text="Name, address and phone, as the patient gave them"
    )
    patient_state = forms.ChoiceField(
        label="Where the patient is right now",
        choices=US_STATES,
        help_text="Prescribing rules follow the patient's location at this moment.",
    )
    location_confirmed = forms.BooleanField(label="I confirmed the patient's location with them today")

    def __init__(self, *args: Any, drug: rules.Drug, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["strength"].choices = [(s, s) for s in drug.strengths]  # type: ignore[attr-defined]
        self.fields["form"].choices = [(f, f) for f in drug.forms]  # type: ignore[attr-defined]
        if drug.schedule == "II":
            self.fields["refills"].help_text = "Schedule II: no refills."


class PdmpForm(TokenForm):
    state = forms.ChoiceField(label="State PDMP checked", choices=US_STATES)
    checked_at = forms.DateTimeField(
        label="Checked at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    outcome = forms.ChoiceField(label="Outcome", choices=PdmpOutcome.choices, widget=forms.RadioSelect)
    findings = forms.CharField(
        label="Findings", max_length=TEXT_MAX, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    reference = forms.CharField(label="Report reference", max_length=60, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["checked_at"].initial = timezone.localtime().replace(second=0, microsecond=0)


class LabForm(TokenForm):
    test = forms.ChoiceField(label="Test", choices=())
    value = forms.CharField(label="Result", max_length=40)
    collected_on = forms.DateField(label="Taken on", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="Note", max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["test"].choices = [  # type: ignore[attr-defined]
            (t.key, f"{t.name} ({t.unit})" if t.unit else t.name)
            for t in sorted(monitoring.tests().values(), key=lambda t: t.name)
        ]
        self.fields["collected_on"].initial = timezone.localdate()


class ObservationForm(TokenForm):
    kind = forms.ChoiceField(label="What you are reporting", choices=ObservationKind.choices, widget=forms.RadioSelect)
    medication = forms.ChoiceField(label="About", required=False, choices=())
    text = forms.CharField(label="What you saw or heard", max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3}))
    observed_on = forms.DateField(label="Session date", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, medications: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["medication"].choices = [("", "The medications in general"), *medications]  # type: ignore[attr-defined]
        self.fields["observed_on"].initial = timezone.localdate()
