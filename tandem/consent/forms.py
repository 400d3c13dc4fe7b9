from __future__ import annotations

import datetime
import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.consent.documents import ConsentTemplate
from tandem.consent.models import Kind, SignerRole, SigningLink
from tandem.organizations.models import Organization
from tandem.patients.forms import FORBIDDEN_TEXT


def _plain(value: str, label: str) -> str:
    if FORBIDDEN_TEXT.search(value):
        raise ValidationError(f"{label} cannot contain < or > or control characters.")
    return value.strip()


class OrganizationChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class ClinicianChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class AuthorizationForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    discloser = OrganizationChoice(
        queryset=Organization.objects.none(), to_field_name="public_id", label="Who discloses", empty_label=None
    )
    recipient = OrganizationChoice(
        queryset=Organization.objects.none(), to_field_name="public_id", label="Who receives", empty_label=None
    )
    mutual = forms.BooleanField(required=False, label="Both ways: each may share with the other", initial=True)
    classes = forms.MultipleChoiceField(
        label="Which information", widget=forms.CheckboxSelectMultiple, required=False, choices=()
    )
    recipient_clinician = ClinicianChoice(
        queryset=User.objects.none(), to_field_name="public_id", required=False, label="Named recipient clinician"
    )
    source_clinician = ClinicianChoice(
        queryset=User.objects.none(),
        to_field_name="public_id",
        required=False,
        label="Whose psychotherapy notes",
        empty_label="Every author at the disclosing organization",
    )
    purpose = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    expires_on = forms.DateField(required=False, label="Expires on", widget=forms.DateInput(attrs={"type": "date"}))
    expiry_event = forms.CharField(
        required=False,
        max_length=200,
        label="Or expires at this event",
        help_text="For example: when treatment with the psychiatric group ends.",
    )
    cost_sharing = forms.CharField(
        required=False,
        max_length=500,
        label="What the patient may pay",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown in the consent in the patient's own words: copays, coinsurance, deductibles.",
    )

    def __init__(
        self,
        *args: Any,
        template: ConsentTemplate,
        parties: list[Organization],
        clinicians: list[User],
        today: datetime.date,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        ids = [o.pk for o in parties]
        for name in ("discloser", "recipient"):
            self.fields[name].queryset = Organization.objects.filter(pk__in=ids)  # type: ignore[attr-defined]
        self.fields["discloser"].initial = parties[0].public_id
        if len(parties) > 1:
            self.fields["recipient"].initial = parties[1].public_id
        people = User.objects.filter(pk__in=[u.pk for u in clinicians]).order_by("full_name")
        self.fields["recipient_clinician"].queryset = people  # type: ignore[attr-defined]
        self.fields["source_clinician"].queryset = people  # type: ignore[attr-defined]
        classes = self.fields["classes"]
        classes.choices = [(c, InfoClass(c).label) for c in template.classes_allowed]  # type: ignore[attr-defined]
        classes.initial = list(template.classes_default)
        self.fields["purpose"].initial = template.purpose_default
        if template.expiry_default_days:
            self.fields["expires_on"].initial = today + datetime.timedelta(days=template.expiry_default_days)
        if template.kind == Kind.PSYCHOTHERAPY_NOTES:
            self.fields["mutual"].initial = False
            self.fields["recipient_clinician"].required = True
        else:
            del self.fields["source_clinician"]
        if template.kind != Kind.TELEHEALTH:
            del self.fields["cost_sharing"]
        if not template.classes_allowed:
            del self.fields["classes"]

    def clean_purpose(self) -> str:
        return _plain(self.cleaned_data["purpose"], "The purpose")

    def clean_expiry_event(self) -> str:
        return _plain(self.cleaned_data.get("expiry_event", ""), "The expiry event")

    def clean_cost_sharing(self) -> str:
        return _plain(self.cleaned_data.get("cost_sharing", ""), "The cost note")


class SendLinkForm(forms.Form):
    channel = forms.ChoiceField(choices=SigningLink.Channel.choices, label="Send by")


class SignForm(forms.Form):
    signer_role = forms.ChoiceField(
        choices=SignerRole.choices, widget=forms.RadioSelect, label="Who is signing", initial=SignerRole.PATIENT
    )
    signer_name = forms.CharField(max_length=120, label="Type your full name")
    representative_authority = forms.CharField(
        max_length=200,
        required=False,
        label="If you sign for the patient: your authority",
        help_text="For example: parent of a minor, legal guardian, health-care power of attorney.",
    )
    agree = forms.BooleanField(label="I have read this form and I agree to it", required=True)
    drawing = forms.CharField(required=False, widget=forms.HiddenInput, max_length=20_000)

    def clean_signer_name(self) -> str:
        return _plain(self.cleaned_data["signer_name"], "The name")

    def clean_representative_authority(self) -> str:
        return _plain(self.cleaned_data.get("representative_authority", ""), "The authority")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("signer_role") == SignerRole.REPRESENTATIVE and not data.get("representative_authority"):
            self.add_error("representative_authority", "A representative states the authority they sign under.")
        return data


class RevokeForm(forms.Form):
    note = forms.CharField(
        max_length=500,
        label="How the patient revoked it",
        help_text="For example: signed revocation letter received March 3.",
    )

    def clean_note(self) -> str:
        return _plain(self.cleaned_data["note"], "The note")


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        min_length=20,
        max_length=1000,
        label="The emergency",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What is happening and why you need the record now. The practice's privacy officer reviews it.",
    )

    def clean_reason(self) -> str:
        return _plain(self.cleaned_data["reason"], "The reason")


class ReviewForm(forms.Form):
    note = forms.CharField(max_length=1000, label="Review finding", widget=forms.Textarea(attrs={"rows": 2}))

    def clean_note(self) -> str:
        return _plain(self.cleaned_data["note"], "The finding")
