"""The audit report, its CSV export, and a patient's access history."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from tandem.access import policy
from tandem.accounts.models import User
from tandem.accounts.views import sudo_required
from tandem.audit import services as audit
from tandem.audit.forms import AuditFilterForm
from tandem.audit.models import Action, AuditEvent
from tandem.audit.selectors import AuditFilters, audit_events

PAGE_SIZE = 100
OVERSIGHT = "oversight"
CSV_COLUMNS = [
    "seq",
    "occurred_at",
    "actor_email",
    "action",
    "patient_id",
    "target_type",
    "target_id",
    "purpose",
    "ip_address",
    "user_agent",
    "hash",
]


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _filters(request: HttpRequest) -> tuple[AuditFilterForm, AuditFilters]:
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        return form, AuditFilters(
            actor_email=data.get("actor_email") or "",
            patient_id=str(data["patient_id"]) if data.get("patient_id") else "",
            action=data.get("action") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
    if form.is_bound:
        # A bad filter shows its error and an empty result, never everything.
        return form, AuditFilters(action="__invalid__")
    return form, AuditFilters()


@require_GET
@login_required
def report(request: HttpRequest) -> HttpResponse:
    if not policy.can_view_audit(request.user):
        raise Http404("Not found")
    form, filters = _filters(request)
    page = Paginator(audit_events(request.user, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    audit.record(
        actor=_actor(request),
        action=Action.VIEW,
        purpose=OVERSIGHT,
        meta=audit.RequestMeta.from_request(request),
        target_type="audit_report",
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/report.html",
        {"nav": "audit", "form": form, "page": page, "query": query.urlencode()},
        status=400 if form.errors else 200,
    )


def _csv_rows(events: Iterator[AuditEvent]) -> Iterator[str]:
    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events:
        yield writer.writerow([_cell(getattr(event, column)) for column in CSV_COLUMNS])


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Keep spreadsheet programs from running a cell as a formula.
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


@require_GET
@login_required
@sudo_required
def export(request: HttpRequest) -> HttpResponseBase:
    if not policy.can_view_audit(request.user):
        raise Http404("Not found")
    form, filters = _filters(request)
    if form.errors:
        return render(
            request, "audit/report.html", {"nav": "audit", "form": form, "page": None, "query": ""}, status=400
        )
    events = audit_events(request.user, filters)
    # The export is itself an audited disclosure of who looked at what.
    audit.record(
        actor=_actor(request),
        action=Action.EXPORT,
        purpose=OVERSIGHT,
        meta=audit.RequestMeta.from_request(request),
        target_type="audit_report",
        detail={"filters": {k: str(v) for k, v in vars(filters).items() if v}},
    )
    response = StreamingHttpResponse(_csv_rows(events.iterator(chunk_size=2000)), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="tandem-audit-{stamp}.csv"'
    return response


@require_GET
@login_required
def patient_access(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    if not policy.can_view_access_history(request.user, patient):
        raise Http404("Not found")
    audit.record(
        actor=_actor(request),
        action=Action.VIEW,
        purpose=OVERSIGHT,
        meta=audit.RequestMeta.from_request(request),
        patient_id=patient.public_id,
        target_type="access_history",
        target_id=patient.public_id,
    )
    events = AuditEvent.objects.filter(patient_id=patient.public_id).order_by("-seq")
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/patient_access.html", {"nav": "patients", "patient": patient, "page": page})
