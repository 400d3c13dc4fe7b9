from __future__ import annotations

from typing import Any

from django import forms

from tandem.audit.models import Action


class AuditFilterForm(forms.Form):
    actor_email = forms.EmailField(label="User's email", required=False, max_length=254)
    patient_id = forms.UUIDField(label="Patient ID", required=False)
    action = forms.ChoiceField(choices=[("", "Any action"), *Action.choices], required=False)
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date must be on or after the start date.")
        return data
