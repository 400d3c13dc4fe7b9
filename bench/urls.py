"""Tandem's URLs plus ``/bench/trivial``.

The trivial view lives here, not in ``tandem/urls.py``: every application URL
is covered by the access-matrix tests, and this one must never ship.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def trivial(request: HttpRequest) -> HttpResponse:
    """The ceiling: the same server, middleware and URL resolver as the pages,
    with no template, no query and no audit row."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/trivial", trivial, name="bench_trivial"),
    path("", include("tandem.urls")),
]
