"""``tandem demo [--reset]``: seed the demo world, then exit."""

import zoneinfo
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.services import totp
from tandem.demo import seed
from tandem.demo.video import patient_link_now


class Command(BaseCommand):
    help = "Seed the demo organizations, people and patients. Running it again changes nothing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--reset", action="store_true", help="Remove the demo world and build it again.")
        parser.add_argument(
            "--code", action="store_true", help="Print the current sign-in code of the demo accounts, and exit."
        )

    def handle(self, *args: Any, reset: bool, code: bool, **options: Any) -> None:
        if code:
            self.stdout.write(totp(seed.TOTP_SECRET).now())
            return
        if reset:
            seed.reset()
            self.stdout.write("Removed the demo world.")
        if seed.is_seeded():
            self.stdout.write("The demo is already in place; nothing changed.")
        else:
            seed.seed()
            self.stdout.write(
                "Seeded the demo: Riverbend Counseling, Lakeside Therapy, Northstar Psychiatry, 50 patients."
            )
        self.stdout.write("\nDemo sign-ins:\n" + seed.sign_in_table())
        self.stdout.write("\n" + video_line())


def video_line() -> str:
    """Where to try a video visit: the open room, and a patient link to it."""
    found = patient_link_now()
    if found is None:
        return "No demo video visit is open right now (`tandem demo --reset` books one ten minutes out)."
    visit, token = found
    link = settings.SITE_URL.rstrip("/") + reverse("video:patient", args=[token])
    when = timezone.localtime(visit.starts_at, zoneinfo.ZoneInfo(visit.organization.timezone)).strftime("%H:%M %Z")
    return (
        f"A video visit starts at {when}: sign in as prescriber@northstar.demo and open it from Today.\n"
        f"  The patient joins from another browser (or a private window) with:\n  {link}"
    )
