"""ICE servers for video calls, and short-lived TURN credentials for them.

Browsers find a media path with ICE: STUN tells each side its public address,
and TURN relays the media when no direct path exists (symmetric NATs, networks
that only let TCP or TLS out). Tandem never relays media itself; it only tells
the browser which STUN and TURN servers to try, in the ``iceServers`` list of
an ``RTCPeerConnection``.

TURN credentials follow coturn's "TURN REST API" scheme (its ``use-auth-secret``
mode). Tandem and coturn share one secret (``TANDEM_TURN_SECRET`` here,
``static-auth-secret`` there), and no user list is kept anywhere:

* the username is ``"<expiry>:<user_ref>"``, where ``expiry`` is a Unix time in
  whole seconds and ``user_ref`` an opaque reference to the participant;
* the credential (the TURN password) is the Base64 of HMAC-SHA1 over that
  username, keyed with the shared secret.

coturn recomputes the HMAC from the username it receives, so it needs no
database, and it refuses the username once ``expiry`` has passed. The expiry
is the time of minting plus ``TURN_TTL_SECONDS`` (``TANDEM_TURN_TTL_MINUTES``,
two hours by default). The browser keeps the credentials it was given when
its socket connected and uses them again whenever it opens a relay (an ICE
restart after a network change, for one), so the TTL should cover a whole
visit; a page that reconnects gets fresh ones with its new welcome message. A
leaked credential can open relays only until then, and is good for nothing
in Tandem itself.

The username travels in clear in every TURN request and lands in coturn's
logs, so ``user_ref`` must carry no personal data: it is an opaque
per-participant id (an attendance's public UUID), checked by :func:`credentials`.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

# Letters, digits, '-' and '_': a UUID, a token, never an e-mail address or a
# name with spaces, and never coturn's separator ':'.
USER_REF = re.compile(r"[A-Za-z0-9_-]{8,64}")


@dataclass(frozen=True)
class TurnCredentials:
    """What a browser passes to TURN: ``username`` and ``credential`` as
    named in an RTCIceServer, and when coturn will stop accepting them."""

    username: str
    credential: str
    expires_at: datetime.datetime


def check_user_ref(user_ref: str) -> str:
    """Return ``user_ref`` if it is fit for a TURN username, else raise ValueError.

    A colon would be taken by coturn as the end of the expiry, and anything that
    looks like personal data (an '@', a space, a dot) has no place in a value
    that is sent in clear and logged by the TURN server."""
    if not isinstance(user_ref, str) or not USER_REF.fullmatch(user_ref):
        raise ValueError(
            "A TURN user reference must be an opaque id of 8 to 64 letters, digits, '-' or '_' "
            "(no ':' and no personal data)."
        )
    return user_ref


def credentials(
    user_ref: str,
    now: datetime.datetime | None = None,
    *,
    secret: str | bytes | None = None,
    ttl: int | None = None,
) -> TurnCredentials:
    """Mint TURN credentials for one participant, valid for ``ttl`` seconds from ``now``.

    ``secret`` defaults to ``settings.TURN_SECRET`` and ``ttl`` to
    ``settings.TURN_TTL_SECONDS``; ``now`` (timezone-aware) to the current time.
    The username is ``f"{expiry}:{user_ref}"`` with ``expiry`` the Unix time
    ``now + ttl`` in whole seconds, and the credential is
    ``base64(HMAC-SHA1(secret, username))``, which is what coturn computes in
    ``use-auth-secret`` mode."""
    check_user_ref(user_ref)
    if now is None:
        now = timezone.now()
    elif timezone.is_naive(now):
        raise ValueError("now must be timezone-aware.")
    if secret is None:
        secret = settings.TURN_SECRET
    if not secret:
        raise ImproperlyConfigured("TURN credentials need a secret: set TANDEM_TURN_SECRET.")
    if ttl is None:
        ttl = settings.TURN_TTL_SECONDS
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ValueError("ttl must be a positive number of seconds.")
    key = secret.encode() if isinstance(secret, str) else secret

    expiry = int(now.timestamp()) + ttl
    username = f"{expiry}:{user_ref}"
    digest = hmac.new(key, username.encode(), hashlib.sha1).digest()
    return TurnCredentials(
        username=username,
        credential=base64.b64encode(digest).decode("ascii"),
        expires_at=datetime.datetime.fromtimestamp(expiry, tz=datetime.UTC),
    )


def ice_servers(user_ref: str, now: datetime.datetime | None = None) -> list[dict[str, str | list[str]]]:
    """The RTCIceServer list for one participant's browser, from settings.

    One entry for ``STUN_URLS`` and one for ``TURN_URLS`` (with fresh
    credentials), each only when configured; with neither, an empty list, and
    the browser tries host candidates only. No public STUN server is ever
    added by default: that would tell a third party who is on a call."""
    check_user_ref(user_ref)
    servers: list[dict[str, str | list[str]]] = []
    if settings.STUN_URLS:
        servers.append({"urls": list(settings.STUN_URLS)})
    if settings.TURN_URLS:
        minted = credentials(user_ref, now)
        servers.append({"urls": list(settings.TURN_URLS), "username": minted.username, "credential": minted.credential})
    return servers
