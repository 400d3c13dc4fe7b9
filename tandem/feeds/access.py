"""Who may have a calendar feed, and which feed a token opens.

These two rules belong in ``tandem.access.policy`` (as
``can_have_calendar_feed`` and ``calendar_feed_for``); they live here only
until that module takes them. They are built from the policy's own
``standing`` so they judge memberships exactly as every other rule does.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.http import Http404

from tandem.access import policy
from tandem.feeds.models import CalendarFeed
from tandem.organizations.models import CLINICAL_ROLES

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tandem.accounts.models import User

# secrets.token_urlsafe(32) gives 43 characters; anything far longer is not ours.
MAX_TOKEN_LENGTH = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def can_have_calendar_feed(user: User | AnonymousUser | None) -> bool:
    """Clinicians (therapists and prescribers with an active membership) keep a feed of their own appointments."""
    return bool(policy.standing(user).orgs_with(CLINICAL_ROLES))


def calendar_feed_for(token: str) -> CalendarFeed:
    """The feed a token opens: the token alone is the permission, and only while
    the feed is not revoked and its owner is still an active clinician. Anything
    else is a 404, alike for unknown, revoked and former clinicians' links."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Http404("Not found")
    feed = (
        CalendarFeed.objects.filter(token_hash=token_hash(token), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if feed is None or not feed.user.is_active or not can_have_calendar_feed(feed.user):
        raise Http404("Not found")
    return feed
