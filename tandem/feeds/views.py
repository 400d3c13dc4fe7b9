"""A clinician's calendar feed: the page that manages the link, and the feed itself."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tandem.access import policy
from tandem.accounts.models import User
from tandem.accounts.views import sudo_required
from tandem.audit import services as audit
from tandem.feeds import services


def _clinicians_only(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Only clinicians keep a feed; to anyone else these pages do not exist."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not policy.can_have_calendar_feed(request.user):
            raise Http404("Not found")
        return view(request, *args, **kwargs)

    return wrapper


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _page(request: HttpRequest, *, new_url: str = "", replaced: bool = False) -> HttpResponse:
    user = _user(request)
    context = {
        "feed": services.active_feed(user),
        "new_url": new_url,
        "replaced": replaced,
        "past_days": services.PAST.days,
        "ahead_days": services.AHEAD.days,
    }
    return render(request, "feeds/manage.html", context)


@require_GET
@login_required
@_clinicians_only
def manage(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@login_required
@_clinicians_only
@sudo_required
def create(request: HttpRequest) -> HttpResponse:
    """Create (or replace) the link and show it this once: only its hash is
    kept, and it never goes into the session either."""
    _feed, token, replaced = services.create_feed(user=_user(request), meta=audit.RequestMeta.from_request(request))
    return _page(request, new_url=services.feed_url(token), replaced=replaced)


@require_POST
@login_required
@_clinicians_only
@sudo_required
def revoke(request: HttpRequest) -> HttpResponse:
    if services.revoke_feed(user=_user(request), meta=audit.RequestMeta.from_request(request)):
        messages.success(request, "Your calendar feed link was revoked. Calendar apps using it get nothing more.")
    else:
        messages.info(request, "You had no calendar feed link to revoke.")
    return redirect("feeds:manage")


@require_GET
def ics(request: HttpRequest, token: str) -> HttpResponse:
    """The feed. No session: calendar apps hold only the link."""
    feed = policy.calendar_feed_for(token)
    result = services.fetch(feed, audit.RequestMeta.from_request(request))
    response = HttpResponse(result.body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["Content-Disposition"] = 'inline; filename="tandem.ics"'
    return response
