"""Access measures for referrals: the page and its CSV export.

Both answer 404 to anyone but a practice admin, a group admin or a group
coordinator, and both record one audit event. The figures are counts and
durations only; neither the page nor the export names a patient.
"""

from __future__ import annotations

import csv
import io

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.referrals import charts
from tandem.referrals.metrics import (
    FIRST_VISIT,
    MEASURE_LABELS,
    MEASURES,
    AccessMetrics,
    Row,
    can_view_referral_metrics,
    compute,
    referral_metrics_scope,
)

OPERATIONS = "operations"
TARGET_TYPE = "referral_metrics"
CSV_COLUMNS = ["dimension", "value", "measure", "n", "median_days", "p90_days"]


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _metrics_for(request: HttpRequest) -> AccessMetrics:
    if not can_view_referral_metrics(request.user):
        raise Http404("Not found")
    now = timezone.now()
    return compute(referral_metrics_scope(request.user, now), now=now, tz=timezone.get_current_timezone())


def _record(request: HttpRequest, action: Action) -> None:
    audit.record(
        actor=_actor(request),
        action=action,
        purpose=OPERATIONS,
        meta=audit.RequestMeta.from_request(request),
        target_type=TARGET_TYPE,
    )


@require_GET
@login_required
def metrics(request: HttpRequest) -> HttpResponse:
    result = _metrics_for(request)
    _record(request, Action.LIST)
    context = {
        "nav": "referrals",
        "metrics": result,
        "measures": [(m, MEASURE_LABELS[m]) for m in MEASURES],
        "chart": charts.first_visit_chart(result.monthly),
    }
    return render(request, "referrals/metrics.html", context)


def _safe_cell(value: object) -> str:
    """The value as text that a spreadsheet shows and never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r", "\n"} else text


def _days(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _csv_rows(result: AccessMetrics) -> list[list[str]]:
    def lines(dimension: str, row: Row) -> list[list[str]]:
        return [[dimension, row.label, m, str(s.n), _days(s.median), _days(s.p90)] for m, _label, s in row.measures]

    rows = lines("overall", result.overall)
    for breakdown in result.breakdowns:
        for row in breakdown.rows:
            rows += lines(breakdown.dimension, row)
    for point in result.monthly:
        s = point.first_visit
        rows.append(["month", point.key, FIRST_VISIT, str(s.n), _days(s.median), _days(s.p90)])
    return rows


@require_GET
@login_required
def metrics_csv(request: HttpRequest) -> HttpResponse:
    # Counts and durations, no health information: the audit event is the
    # safeguard here, not the identity check the audit report's export asks for.
    result = _metrics_for(request)
    _record(request, Action.EXPORT)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in _csv_rows(result):
        writer.writerow([_safe_cell(cell) for cell in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(result.now).strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="tandem-referral-access-{stamp}.csv"'
    return response
