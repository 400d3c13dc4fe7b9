"""The accounting of disclosures: every crossing of information from one
organization to another is written down, with its basis.

A view gathers what it showed into a ``Ledger`` and writes it once, as one row
per source organization and basis, in the same transaction as its audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tandem.access.policy import Grant, Sharing
from tandem.consent.models import Disclosure


@dataclass
class _Entry:
    classes: set[str] = field(default_factory=set)
    records: list[str] = field(default_factory=list)


@dataclass
class Ledger:
    sharing: Sharing
    channel: str = Disclosure.Channel.VIEW
    _entries: dict[tuple[int, str, int | None, int | None, str], _Entry] = field(default_factory=dict)

    def add(self, grant: Grant | None, source_org_id: int, info_class: str, record: str) -> None:
        """Note that this record of this class was shown, if it crossed over."""
        if grant is None or not grant.crosses or source_org_id in self.sharing.own_org_ids:
            return  # nothing crossed: the viewer's own organization's information
        key = (source_org_id, grant.basis, grant.authorization_id, grant.break_glass_id, grant.purpose)
        entry = self._entries.setdefault(key, _Entry())
        entry.classes.add(info_class)
        if record not in entry.records:
            entry.records.append(record)

    def note(self, source_org_id: int, info_class: str, record: str, author_id: int | None = None) -> bool:
        """Ask and note in one step: whether it may be shown."""
        grant = self.sharing.grant(info_class, source_org_id, author_id)
        self.add(grant, source_org_id, info_class, record)
        return grant is not None

    def write(self) -> list[Disclosure]:
        return write_all([self])

    def rows(self) -> list[Disclosure]:
        recipient = self.sharing.viewer_org_id
        rows = [
            Disclosure(
                patient=self.sharing.patient,
                source_id=source,
                recipient_id=recipient,
                recipient_user_id=self.sharing.viewer_id,
                classes=sorted(entry.classes),
                records=entry.records[:500],
                occurred_at=self.sharing.at,
                purpose=purpose or "Treatment",
                channel=self.channel,
                basis=basis,
                authorization_id=authorization_id,
                break_glass_id=break_glass_id,
            )
            for (source, basis, authorization_id, break_glass_id, purpose), entry in self._entries.items()
        ]
        self._entries.clear()
        return rows


def write_all(ledgers: list[Ledger]) -> list[Disclosure]:
    """Every ledger's rows, in one insert."""
    rows = [row for ledger in ledgers for row in ledger.rows()]
    return Disclosure.objects.bulk_create(rows) if rows else []
