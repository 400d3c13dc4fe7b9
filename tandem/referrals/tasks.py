"""Work the worker picks up at once, rather than at the next sweep."""

from __future__ import annotations

from django_tasks import task


@task()
def fill_waitlist_now() -> int:
    """An opening may have appeared (a cancellation, new hours): offer it now."""
    from tandem.referrals.services import fill_waitlist

    return fill_waitlist()
