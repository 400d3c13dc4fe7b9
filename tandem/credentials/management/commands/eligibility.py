"""``tandem eligibility``: ask the engine from the command line; prints JSON."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tandem.accounts.models import User
from tandem.credentials.eligibility import Action, decide, load_credentials
from tandem.patients.models import Payer


class Command(BaseCommand):
    help = "May this clinician see, prescribe for or bill for a patient in this state, now or at --at?"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--clinician", required=True, help="The clinician's sign-in email.")
        parser.add_argument("--state", required=True, help="Where the patient is, e.g. WA.")
        parser.add_argument("--action", required=True, choices=[a.value for a in Action])
        parser.add_argument("--drug", default="", help="For --action prescribe: a drug in the catalog.")
        parser.add_argument("--payer", default="", help="For --action bill: the payer's name or code.")
        parser.add_argument("--at", default="", help="An ISO 8601 time with offset; default now.")

    def handle(
        self, *args: Any, clinician: str, state: str, action: str, drug: str, payer: str, at: str, **options: Any
    ) -> None:
        user = User.objects.filter(email=clinician.strip().lower()).first()
        if user is None:
            raise CommandError(f"No clinician signs in as {clinician!r}.")
        when = timezone.now()
        if at:
            try:
                when = datetime.datetime.fromisoformat(at)
            except ValueError:
                raise CommandError(f"--at must be an ISO 8601 time, not {at!r}.") from None
            if when.tzinfo is None:
                raise CommandError("--at needs a UTC offset, e.g. 2027-01-01T09:00:00-08:00.")
        if action == Action.PRESCRIBE and not drug:
            raise CommandError("--action prescribe needs --drug.")
        payer_code = ""
        if payer:
            found = Payer.objects.filter(code=payer).first() or Payer.objects.filter(name__iexact=payer).first()
            payer_code = found.code if found else payer
        creds = load_credentials([user.pk])[user.pk]
        decision = decide(creds, state=state.strip().upper(), at=when, action=action, drug=drug, payer=payer_code)
        self.stdout.write(json.dumps(decision.as_dict()))
