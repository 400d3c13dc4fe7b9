"""A signed note reaches the rest of the care team by itself, and its author
sees who has read it.

When a note is signed, every other active member of the patient's care team
who may see it (the consent gate decides, exactly as on the chart) gets a
notification in their inbox and a live nudge: the chart's record list and
their Today page refresh in place. The notification says only that a note
about a patient is ready, from whom; never the patient's name or any health
information, since notifications may go out by email.

A reader's first opening of a signed note is a read receipt; the author's
page for the note refreshes live to show it.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.urls import reverse

from tandem.access import policy
from tandem.accounts.models import User
from tandem.accounts.sessions import user_group
from tandem.messaging.services import notifications_seen, notify
from tandem.records.models import Document, NoteRead

NOTE_SIGNED = "note_signed"


def readers_of(document: Document) -> list[User]:
    """The patient's other active care-team members who may see this note now."""
    return [
        u
        for u in policy.team_who_sees(document.patient, document.effective_class, document.organization_id)
        if u.pk != document.author_id
    ]


def on_signed(document: Document) -> list[User]:
    """Tell the readers; call inside the signing transaction."""
    readers = readers_of(document)
    if readers:
        notify(
            recipients=readers,
            kind=NOTE_SIGNED,
            text=f"New note from {document.author.display_name} about a patient on your care team",
            link=_link(document),
            email_subject="A new note about a patient is ready in Tandem",
        )
    return readers


def _link(document: Document) -> str:
    return reverse("records:document", args=[document.patient.public_id, document.public_id])


def opened(document: Document, reader: User) -> None:
    """A reader opened a signed note: a receipt for the author, and the
    reader's notification about it is read."""
    if reader.pk == document.author_id or not document.is_note:
        return
    mark_read(document, reader)
    notifications_seen(reader, _link(document))


def mark_read(document: Document, reader: User) -> bool:
    """Record the reader's first opening of a signed note (never the author's);
    True the first time, when the author is nudged live."""
    if reader.pk == document.author_id or not document.is_note:
        return False
    try:
        with transaction.atomic():
            _row, created = NoteRead.objects.get_or_create(document=document, reader=reader)
    except IntegrityError:
        return False  # two tabs at once: the other one recorded it
    if created:
        author_id = document.author_id
        transaction.on_commit(lambda: _push_read(author_id))
    return created


def _push_read(author_id: int) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(user_group(author_id), {"type": "live.event", "event": {"kind": "note_read"}})
