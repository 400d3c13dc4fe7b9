"""Automatic logoff: an idle limit and an absolute limit on every session."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.accounts.services import SESSION_LAST_SEEN, session_state
from tandem.accounts.sessions import end_session

# Requests that report on the session without counting as the user's activity.
PASSIVE_PATHS = ("/accounts/session/status",)
# Writing the session on every request costs a query; a few seconds of slack
# in the idle clock does not matter.
TOUCH_EVERY_SECONDS = 15


class SessionLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            state = session_state(request.session)
            if state.expired:
                end_session(request, reason=state.reason)
                return self._signed_out(request, state.reason)
            # A region refreshing itself after a live event is not the person at work.
            passive = request.path.startswith(PASSIVE_PATHS) or request.headers.get("X-Tandem-Passive") == "1"
            if not passive:
                now = timezone.now().timestamp()
                last = request.session.get(SESSION_LAST_SEEN, 0)
                if now - float(last) >= TOUCH_EVERY_SECONDS:
                    request.session[SESSION_LAST_SEEN] = now
        return self.get_response(request)

    @staticmethod
    def _signed_out(request: HttpRequest, reason: str) -> HttpResponse:
        target = reverse("accounts:signed_out") + f"?reason={reason}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        if request.path.startswith(("/accounts/session/", "/healthz")) or request.headers.get("Accept", "").startswith(
            "application/json"
        ):
            return JsonResponse({"signed_in": False, "reason": reason, "redirect": target}, status=401)
        return redirect(target)


class UserTimezoneMiddleware:
    """Show times in the signed-in person's own time zone; store them in UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if isinstance(user, User) and user.timezone:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.timezone))
            except zoneinfo.ZoneInfoNotFoundError:
                timezone.deactivate()
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
