"""Secret tokens carried in links (signing links, calendar feeds). The link
holds the token; the database keeps only its SHA-256, so a copy of the
database cannot open anything."""

from __future__ import annotations

import hashlib
import secrets

# token_urlsafe(32) gives 43 characters; anything far longer is not ours.
MAX_LENGTH = 100


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
