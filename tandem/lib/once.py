"""Creating a row once per form: a form carries a hidden token, and a second
submit of the same form (a double click, a retry after a dropped response)
finds the row the first one made instead of making a twin."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

M = TypeVar("M", bound=models.Model)


def create_once(model: type[M], form_token: uuid.UUID, create: Callable[[], M], **scope: Any) -> tuple[M, bool]:
    """The row this form made (within ``scope``, so a token cannot reach
    someone else's row), or a new one made by ``create`` inside a
    transaction: ``(row, created)``. An integrity error that is not the
    token's (another constraint) propagates for the caller to explain."""
    rows = model._default_manager.filter(form_token=form_token, **scope)
    existing = rows.first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return create(), True
    except IntegrityError:
        first = rows.first()
        if first is None:
            raise
        return first, False
