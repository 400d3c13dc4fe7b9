from __future__ import annotations

from typing import Any

from django import forms

from tandem.organizations.models import ROLES_BY_KIND, Organization, Role
from tandem.patients.forms import FORBIDDEN_TEXT, NAME_RE


def _role_choices(organization: Organization) -> list[tuple[str, str]]:
    allowed = ROLES_BY_KIND[organization.kind]
    return [(value, label) for value, label in Role.choices if value in allowed]


class InviteForm(forms.Form):
    full_name = forms.CharField(max_length=150)
    email = forms.EmailField(max_length=254)
    credentials = forms.CharField(max_length=40, required=False, help_text="For example LPC, LCSW, MD, PMHNP.")
    role = forms.ChoiceField(choices=[])

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = _role_choices(organization)

    def clean_full_name(self) -> str:
        value: str = self.cleaned_data["full_name"].strip()
        if FORBIDDEN_TEXT.search(value) or not NAME_RE.match(value):
            raise forms.ValidationError("Names may hold letters, spaces, hyphens, apostrophes and periods.")
        return value

    def clean_credentials(self) -> str:
        value: str = self.cleaned_data["credentials"].strip()
        if FORBIDDEN_TEXT.search(value):
            raise forms.ValidationError("Use plain text.")
        return value

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=[])

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = _role_choices(organization)
