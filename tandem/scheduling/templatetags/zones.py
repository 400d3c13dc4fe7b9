"""Times in a named zone, for "your time (the patient's time)" displays."""

from __future__ import annotations

import datetime
import zoneinfo

from django import template

register = template.Library()


@register.filter
def in_zone(value: datetime.datetime | None, zone: str) -> datetime.datetime | None:
    if value is None or not zone:
        return value
    try:
        return value.astimezone(zoneinfo.ZoneInfo(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return value


@register.filter
def differs_from(value: datetime.datetime | None, zone: str) -> bool:
    """Whether the current zone shows a different offset than ``zone`` at this instant."""
    if value is None or not zone:
        return False
    from django.utils import timezone

    here = value.astimezone(timezone.get_current_timezone()).utcoffset()
    try:
        there = value.astimezone(zoneinfo.ZoneInfo(zone)).utcoffset()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return here != there
