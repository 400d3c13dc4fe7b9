"""``tandem audit_verify``: check the audit hash chain end to end."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tandem.audit.services import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain. Prints OK, or the first broken row and why."

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify_chain()
        if not result.ok:
            raise CommandError(result.describe())
        self.stdout.write(result.describe())
