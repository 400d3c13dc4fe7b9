from __future__ import annotations

import datetime
from typing import Any

from django import forms

from tandem.lib.us_states import US_STATES
from tandem.patients.models import Language, Patient, Payer
from tandem.records.models import Document
from tandem.referrals.matching import TIMES_OF_DAY
from tandem.referrals.models import QUESTION_MAX, REASON_MAX, Referral, Urgency, VisitSetting
from tandem.referrals.services import Draft

TIME_CHOICES = [(key, label.capitalize()) for key, (_a, _b, label) in TIMES_OF_DAY.items()]


def _attachment_label(document: Document) -> str:
    return f"{document.get_info_class_display()}: {document.title} ({document.occurred_on:%b %-d, %Y})"


class ReferralForm(forms.Form):
    urgency = forms.ChoiceField(choices=Urgency.choices, widget=forms.RadioSelect, initial=Urgency.ROUTINE)
    reason = forms.CharField(
        label="Reason for referral",
        max_length=REASON_MAX,
        required=False,
        help_text="One line, for example: depression not responding to therapy alone.",
    )
    clinical_question = forms.CharField(
        label="Clinical question for the prescriber",
        max_length=QUESTION_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    attachments = forms.ModelMultipleChoiceField(
        label="Attach",
        queryset=Document.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    language = forms.ChoiceField(label="Preferred language", choices=Language.choices)
    times_of_day = forms.MultipleChoiceField(
        label="Times of day that suit the patient",
        choices=TIME_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all clear for any time.",
    )
    visit_setting = forms.ChoiceField(
        label="Where the patient joins", choices=VisitSetting.choices, widget=forms.RadioSelect
    )
    location_state = forms.ChoiceField(label="State the patient will be in for visits", choices=US_STATES)
    payer = forms.ModelChoiceField(
        label="Insurance", queryset=Payer.objects.all(), required=False, empty_label="Self-pay / none"
    )
    member_id = forms.CharField(label="Member ID", max_length=40, required=False)

    def __init__(self, *args: Any, documents: list[Document], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["attachments"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = Document.objects.filter(pk__in=[d.pk for d in documents]).order_by("-occurred_on")
        field.label_from_instance = _attachment_label  # type: ignore[method-assign,assignment]

    @classmethod
    def initial_for(cls, patient: Patient, latest: list[Document]) -> dict[str, object]:
        return {
            "language": patient.preferred_language,
            "location_state": patient.state,
            "payer": patient.payer_id,
            "member_id": patient.member_id,
            "attachments": [d.pk for d in latest],
            "visit_setting": VisitSetting.VIDEO_HOME,
            "urgency": Urgency.ROUTINE,
        }

    @classmethod
    def initial_from(cls, referral: Referral) -> dict[str, object]:
        return {
            "urgency": referral.urgency,
            "reason": referral.reason,
            "clinical_question": referral.clinical_question,
            "attachments": [d.pk for d in referral.attachments.all()],
            "language": referral.language,
            "times_of_day": referral.times_of_day,
            "visit_setting": referral.visit_setting,
            "location_state": referral.location_state,
            "payer": referral.payer_id,
            "member_id": referral.member_id,
        }

    def draft(self) -> Draft:
        data = self.cleaned_data
        return Draft(
            urgency=data["urgency"],
            reason=data["reason"],
            clinical_question=data["clinical_question"],
            language=data["language"],
            times_of_day=tuple(data["times_of_day"]),
            visit_setting=data["visit_setting"],
            location_state=data["location_state"],
            payer=data["payer"],
            member_id=data["member_id"],
            attachments=tuple(data["attachments"]),
        )


class TriageForm(forms.Form):
    urgency = forms.ChoiceField(label="Urgency", choices=Urgency.choices)
    note = forms.CharField(label="Triage note (optional)", max_length=REASON_MAX, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=REASON_MAX)


class BookForm(forms.Form):
    prescriber = forms.UUIDField()
    starts_at = forms.DateTimeField(input_formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%z"])

    def clean_starts_at(self) -> datetime.datetime:
        value = self.cleaned_data["starts_at"]
        if value.tzinfo is None:
            raise forms.ValidationError("The time needs its zone.")
        return value.astimezone(datetime.UTC)
