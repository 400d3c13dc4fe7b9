from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from tandem.accounts.models import User
from tandem.credentials.eligibility import Action
from tandem.credentials.rules import current
from tandem.lib.us_states import US_STATES
from tandem.patients.models import Payer


class ClinicianChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


class EligibilityForm(forms.Form):
    clinician = ClinicianChoiceField(queryset=User.objects.none(), to_field_name="public_id")
    state = forms.ChoiceField(label="Where the patient is", choices=US_STATES)
    action = forms.ChoiceField(
        choices=[
            (Action.SEE, "See by video"),
            (Action.SEE_AUDIO, "See by audio only"),
            (Action.PRESCRIBE, "Prescribe a drug"),
            (Action.BILL, "Bill a payer"),
        ]
    )
    drug = forms.ChoiceField(required=False, help_text="For prescribing.")
    payer = forms.ModelChoiceField(
        queryset=Payer.objects.all(), to_field_name="code", required=False, help_text="For billing."
    )
    at = forms.DateTimeField(
        label="At (your time)",
        required=False,
        help_text="Leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args: Any, clinicians: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["clinician"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = clinicians
        drug = self.fields["drug"]
        assert isinstance(drug, forms.ChoiceField)
        drug.choices = [("", "—")] + [
            (name, f"{name} ({d.drug_class}{', Schedule ' + d.schedule if d.schedule else ''})")
            for name, d in sorted(current().drugs.items())
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == Action.PRESCRIBE and not data.get("drug"):
            self.add_error("drug", "Choose the drug to prescribe.")
        if data.get("action") == Action.BILL and not data.get("payer"):
            self.add_error("payer", "Choose the payer to bill.")
        return data


KIND_FIELDS: dict[str, list[str]] = {
    "licence": ["state", "license_type", "number", "via_imlc"],
    "compact": ["compact", "state", "number"],
    "dea": ["state", "number", "schedules"],
    "csr": ["state", "number"],
    "board": ["board", "specialty"],
    "enrollment": ["payer", "state"],
    "collaboration": ["state", "physician_name"],
}
COMMON_FIELDS = ["status", "issued_on", "expires_on", "document"]


class BaseCredentialForm(forms.ModelForm[Any]):
    document_type = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "schedules" in self.fields:
            from tandem.credentials.models import Schedule

            self.fields["schedules"] = forms.MultipleChoiceField(
                choices=Schedule.choices, widget=forms.CheckboxSelectMultiple, label="Schedules covered"
            )

    def clean_document(self) -> Any:
        upload = self.cleaned_data.get("document")
        if upload and hasattr(upload, "content_type"):
            from tandem.credentials.documents import sniff

            self.document_type = sniff(upload)
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("number", "physician_name", "board", "specialty"):
            value = data.get(name)
            if isinstance(value, str) and ("<" in value or ">" in value):
                self.add_error(name, "Use plain text: < and > are not allowed.")
        return data


def credential_form_class(kind: str) -> type[forms.ModelForm[Any]]:
    from tandem.credentials.models import KIND_MODELS

    return forms.modelform_factory(
        KIND_MODELS[kind],
        form=BaseCredentialForm,
        fields=KIND_FIELDS[kind] + COMMON_FIELDS,
        widgets={
            "issued_on": forms.DateInput(attrs={"type": "date"}),
            "expires_on": forms.DateInput(attrs={"type": "date"}),
        },
    )


class VerifyForm(forms.Form):
    source = forms.CharField(
        max_length=200, label="Verified against", help_text="For example: Oregon Medical Board license lookup."
    )


class ProfileForm(forms.ModelForm[Any]):
    class Meta:
        from tandem.credentials.models import ClinicianProfile

        model = ClinicianProfile
        fields = ["discipline", "npi"]
