"""``tandem demo [--reset]``: seed the demo world, then exit."""

from typing import Any

from django.core.management.base import BaseCommand

from tandem.accounts.services import totp
from tandem.demo import seed


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
