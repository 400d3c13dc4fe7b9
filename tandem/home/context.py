from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from tandem.access import policy


def site(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {
        "demo_mode": settings.DEMO_MODE,
        "idle_timeout_seconds": settings.IDLE_TIMEOUT_SECONDS,
        "nav_admin": policy.can_view_audit(user) if user is not None and user.is_authenticated else False,
        "nav_credentials": policy.can_oversee_credentials(user)
        if user is not None and user.is_authenticated
        else False,
        "nav_feed": policy.can_have_calendar_feed(user) if user is not None and user.is_authenticated else False,
    }
