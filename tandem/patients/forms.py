from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from tandem.organizations.models import Membership, Organization
from tandem.patients.models import CareTeamRole, Patient, Payer

NAME_RE = re.compile(r"^[^\W\d_]+(?:[ '\u2019.-][^\W\d_]*)*\.?$")
FORBIDDEN_TEXT = re.compile(r"[<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NAME_FIELDS = {"first_name", "last_name", "preferred_name", "emergency_contact_name"}
TEXT_FIELDS = {
    "gender_identity",
    "pronouns",
    "address_line1",
    "address_line2",
    "city",
    "member_id",
    "emergency_contact_relationship",
}


class PatientForm(forms.ModelForm[Patient]):
    intake_token = forms.UUIDField(widget=forms.HiddenInput, required=False)
    practice = forms.ModelChoiceField(queryset=Organization.objects.none(), to_field_name="public_id", empty_label=None)
    payer = forms.ModelChoiceField(
        queryset=Payer.objects.all(),
        to_field_name="public_id",
        required=False,
        empty_label="Self-pay / none on file",
        label="Insurance",
    )

    class Meta:
        model = Patient
        fields = [
            "first_name",
            "last_name",
            "preferred_name",
            "date_of_birth",
            "sex_at_birth",
            "gender_identity",
            "pronouns",
            "preferred_language",
            "timezone",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "payer",
            "member_id",
            "emergency_contact_name",
            "emergency_contact_relationship",
            "emergency_contact_phone",
        ]
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}),
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "emergency_contact_phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        }

    def __init__(self, *args: Any, practices: list[Organization], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        practice_field = self.fields["practice"]
        assert isinstance(practice_field, forms.ModelChoiceField)
        practice_field.queryset = Organization.objects.filter(pk__in=[p.pk for p in practices])
        if self.instance.pk:
            del self.fields["practice"]
            del self.fields["intake_token"]
        elif len(practices) == 1:
            self.fields["practice"].initial = practices[0].public_id
            self.fields["practice"].widget = forms.HiddenInput()
        if not self.instance.pk and not self.is_bound:
            self.initial.setdefault("intake_token", uuid.uuid4())
            if practices:
                self.initial.setdefault("timezone", practices[0].timezone)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, value in list(data.items()):
            if not isinstance(value, str) or not value:
                continue
            if FORBIDDEN_TEXT.search(value):
                self.add_error(name, "Use plain text: the characters < and > and control characters are not allowed.")
            elif name in NAME_FIELDS and not NAME_RE.match(value.strip()):
                self.add_error(name, "Names may hold letters, spaces, hyphens, apostrophes and periods.")
        return data

    def clean_date_of_birth(self) -> datetime.date:
        dob: datetime.date = self.cleaned_data["date_of_birth"]
        if dob > timezone.now().date():
            raise ValidationError("The date of birth cannot be in the future.")
        if dob.year < 1900:
            raise ValidationError("Enter a date of birth after 1900.")
        return dob


class MembershipChoiceField(forms.ModelChoiceField[Membership]):
    def label_from_instance(self, obj: Membership) -> str:
        return f"{obj.user.display_name} — {obj.get_role_display()}, {obj.organization.name}"


class CareTeamAddForm(forms.Form):
    membership = MembershipChoiceField(queryset=Membership.objects.none(), to_field_name="public_id", label="Clinician")
    role = forms.ChoiceField(choices=CareTeamRole.choices)
    starts_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="From")
    ends_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Until (optional)", required=False)

    def __init__(self, *args: Any, eligible: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["membership"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = eligible

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("starts_on"), data.get("ends_on")
        if start and end and end < start:
            self.add_error("ends_on", "The end date must be on or after the start date.")
        return data


class CareTeamEndForm(forms.Form):
    ends_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Last day on the team")
