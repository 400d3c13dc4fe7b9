"""The e-prescribing adapter.

Sending a prescription to a pharmacy (NCPDP SCRIPT, EPCS for controlled
drugs) goes through an outside vendor that is certified for it. Tandem calls
one interface, ``Backend.transmit``, and the setting
``TANDEM_ERX_BACKEND`` names the implementation.

The only backend in this codebase is ``StubBackend``. **It sends nothing.**
It records that the prescription was not transmitted, and every page that
shows a prescription says so. A vendor backend implements ``transmit`` with
the vendor's API and returns ``Outcome(sent=True, ...)`` only once the vendor
has accepted the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from tandem.medications.models import Prescription


@dataclass(frozen=True)
class Outcome:
    sent: bool
    note: str
    failed: bool = False


class Backend(Protocol):
    name: str

    def transmit(self, prescription: Prescription) -> Outcome: ...


class StubBackend:
    """Records the prescription and sends nothing anywhere."""

    name = "stub"
    NOTE = (
        "Not sent: Tandem's stub e-prescribing backend transmits nothing. "
        "Give the patient a printed record or call the pharmacy."
    )

    def transmit(self, prescription: Prescription) -> Outcome:
        return Outcome(sent=False, note=self.NOTE)


def backend() -> Backend:
    found: Backend = import_string(settings.ERX_BACKEND)()
    return found
