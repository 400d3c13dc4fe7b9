from __future__ import annotations

import datetime
import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from tandem.accounts.models import User
from tandem.lib.us_states import US_STATES
from tandem.patients.forms import FORBIDDEN_TEXT
from tandem.scheduling.models import AppointmentType, Modality

MAX_DAYS = 28


class ClinicianChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class TypeChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.minutes} min)"


class SearchForm(forms.Form):
    """Step one: what, with whom, how, and which days."""

    appointment_type = TypeChoice(queryset=AppointmentType.objects.none(), to_field_name="public_id", label="Kind")
    clinicians = ClinicianChoices(
        queryset=User.objects.none(), to_field_name="public_id", widget=forms.CheckboxSelectMultiple, required=False
    )
    any_eligible = forms.BooleanField(
        required=False,
        label="Also offer every partner prescriber who may see this patient",
        help_text="Searches the partner groups' prescribers licensed where the patient will be.",
    )
    modality = forms.ChoiceField(choices=Modality.choices, initial=Modality.VIDEO_HOME, label="How")
    expected_state = forms.ChoiceField(
        choices=US_STATES, label="Where the patient will be", help_text="Licensing is checked for this state."
    )
    first_day = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, initial=7, label="Days to search")
    weeks = forms.IntegerField(
        min_value=1,
        max_value=26,
        initial=1,
        required=False,
        label="Repeat weekly for (weeks)",
        help_text="Therapy sessions only: the same time each week.",
    )
    skip_taken = forms.BooleanField(required=False, label="If some weeks are taken, book the others")

    def __init__(
        self, *args: Any, types: Any, clinicians: Any, today: datetime.date, state: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["appointment_type"].queryset = types  # type: ignore[attr-defined]
        self.fields["clinicians"].queryset = clinicians  # type: ignore[attr-defined]
        self.fields["first_day"].initial = today
        self.fields["expected_state"].initial = state
        self.today = today

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["weeks"] = data.get("weeks") or 1
        if not data.get("clinicians") and not data.get("any_eligible"):
            self.add_error("clinicians", "Choose who takes part, or search every eligible prescriber.")
        kind = getattr(data.get("appointment_type"), "kind", "")
        if data["weeks"] > 1 and kind != "therapy":
            self.add_error("weeks", "Only therapy sessions repeat weekly.")
        return data

    def clean_first_day(self) -> datetime.date:
        day: datetime.date = self.cleaned_data["first_day"]
        if day < self.today:
            raise ValidationError("Search from today onwards.")
        if day > self.today + datetime.timedelta(days=366):
            raise ValidationError("Search within the next year.")
        return day


class BookForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    slot = forms.DateTimeField(widget=forms.HiddenInput)
    clinician = forms.UUIDField(widget=forms.HiddenInput, required=False)


def _reason(value: str) -> str:
    if FORBIDDEN_TEXT.search(value):
        raise ValidationError("The reason cannot contain < or > or control characters.")
    return value.strip()


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300)

    def clean_reason(self) -> str:
        return _reason(self.cleaned_data["reason"])


class RescheduleForm(ReasonForm):
    starts_at = forms.DateTimeField(
        label="New start (your time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class CheckInForm(forms.Form):
    state = forms.ChoiceField(choices=US_STATES, label="Where the patient is right now")
    attested_by = forms.ChoiceField(
        choices=[("patient", "The patient told us"), ("clinician", "I confirmed it")],
        widget=forms.RadioSelect,
        label="Who attests it",
        initial="clinician",
    )


WEEKDAYS = [
    (i, d) for i, d in enumerate(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])
]


class HoursForm(forms.Form):
    weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int)
    start = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}), label="From")
    end = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}), label="Until")
    valid_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Starting on")
    valid_until = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), label="Last day (optional)", required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", "End after the start.")
        return data


class TimeOffForm(forms.Form):
    starts_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="From")
    ends_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Until")
    reason = forms.CharField(max_length=200, required=False, help_text="Only you and your admins see it.")

    def clean_reason(self) -> str:
        return _reason(self.cleaned_data.get("reason", ""))


class RulesForm(forms.Form):
    buffer_minutes = forms.IntegerField(min_value=0, max_value=120, label="Minutes between appointments")
    max_per_day = forms.IntegerField(min_value=1, max_value=30, label="Most appointments in a day")
    new_patient_per_week = forms.IntegerField(min_value=0, max_value=50, label="New-patient evaluations a week")
