from __future__ import annotations

import datetime
import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from tandem.patients.forms import FORBIDDEN_TEXT
from tandem.records.models import BODY_MAX, RECORD_CLASS_CHOICES, TITLE_MAX


def _no_markup(value: str, label: str) -> str:
    if FORBIDDEN_TEXT.search(value):
        raise ValidationError(f"{label} cannot contain < or > or control characters.")
    return value.strip()


def _not_future(day: datetime.date, today: datetime.date) -> datetime.date:
    if day > today:
        raise ValidationError("The date cannot be in the future.")
    return day


class DocumentForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    info_class = forms.ChoiceField(label="Kind of information", choices=RECORD_CLASS_CHOICES)
    part2 = forms.BooleanField(
        label="This is a substance-use disorder record (42 CFR Part 2)",
        required=False,
        help_text="Part 2 records are shared only under the patient's Part 2 consent.",
    )
    title = forms.CharField(max_length=TITLE_MAX)
    occurred_on = forms.DateField(label="Date of service", widget=forms.DateInput(attrs={"type": "date"}))
    body = forms.CharField(label="Text", max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 10}))

    def __init__(self, *args: Any, today: datetime.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["occurred_on"].initial = today

    def clean_title(self) -> str:
        return _no_markup(self.cleaned_data["title"], "The title")

    def clean_occurred_on(self) -> datetime.date:
        return _not_future(self.cleaned_data["occurred_on"], self.today)


class PsychotherapyNoteForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    occurred_on = forms.DateField(label="Session date", widget=forms.DateInput(attrs={"type": "date"}))
    body = forms.CharField(label="Private note", max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 12}))

    def __init__(self, *args: Any, today: datetime.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["occurred_on"].initial = today

    def clean_occurred_on(self) -> datetime.date:
        return _not_future(self.cleaned_data["occurred_on"], self.today)
