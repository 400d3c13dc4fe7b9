from __future__ import annotations

import datetime
import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from tandem.patients.forms import FORBIDDEN_TEXT
from tandem.records.models import BODY_MAX, RECORD_CLASS_CHOICES, TITLE_MAX
from tandem.records.note_kinds import NoteKind


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


# --- Encounter notes ---------------------------------------------------------------------------


class NoteStartForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    kind = forms.ChoiceField(label="Kind of note", widget=forms.RadioSelect)
    occurred_on = forms.DateField(label="Date of service", widget=forms.DateInput(attrs={"type": "date"}))
    encounter = forms.ChoiceField(label="Visit", required=False)
    part2 = forms.BooleanField(
        label="This note is a substance-use disorder record (42 CFR Part 2)",
        required=False,
        help_text="Part 2 notes are shared only under the patient's Part 2 consent.",
    )

    def __init__(
        self,
        *args: Any,
        today: datetime.date,
        kinds: list[tuple[str, str]],
        visits: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = kinds
        if len(kinds) == 1:
            self.fields["kind"].initial = kinds[0][0]
        self.fields["occurred_on"].initial = today
        encounter = self.fields["encounter"]
        assert isinstance(encounter, forms.ChoiceField)
        encounter.choices = [("", "Not tied to a visit"), *visits]

    def clean_occurred_on(self) -> datetime.date:
        return _not_future(self.cleaned_data["occurred_on"], self.today)


class NoteFieldsForm(forms.Form):
    """The fields of one note template, plus the revision the text started from."""

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args: Any, kind: NoteKind, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for f in kind.fields:
            if f.kind == "choice":
                field: forms.Field = forms.ChoiceField(choices=[("", "Choose…"), *f.choices], required=False)
            elif f.kind == "short":
                field = forms.CharField(max_length=f.max_length, required=False)
            else:
                field = forms.CharField(
                    max_length=f.max_length, required=False, widget=forms.Textarea(attrs={"rows": 5})
                )
            field.label = f.label
            field.help_text = f.help
            # Required to sign, not to save: the draft may be half written.
            field.widget.attrs["data-required-to-sign"] = "true" if f.required else "false"
            self.fields[f.key] = field


class AmendForm(forms.Form):
    change = forms.ChoiceField(
        label="What to add",
        choices=[
            ("amendment", "An amendment: correct the note (a new version replaces it in the chart)"),
            ("addendum", "An addendum: add to the note (the note stays as it is)"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(label="Why", max_length=500)

    def clean_reason(self) -> str:
        return _no_markup(self.cleaned_data["reason"], "The reason")
