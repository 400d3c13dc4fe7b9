"""Coverage, expiring credentials, one clinician's file, and the eligibility check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from tandem.access import policy
from tandem.credentials import selectors
from tandem.credentials.eligibility import decide, load_credentials
from tandem.credentials.forms import EligibilityForm

WINDOWS = (30, 60, 90)


def _require_oversight(request: HttpRequest) -> None:
    if not policy.can_oversee_credentials(request.user):
        raise Http404("Not found")


@require_GET
@login_required
def coverage(request: HttpRequest) -> HttpResponse:
    _require_oversight(request)
    return render(
        request,
        "credentials/coverage.html",
        {
            "nav": "credentials",
            "coverage": selectors.coverage(request.user),
            "drug": selectors.COVERAGE_CONTROLLED_DRUG,
        },
    )


@require_GET
@login_required
def expiring(request: HttpRequest) -> HttpResponse:
    _require_oversight(request)
    try:
        window = int(request.GET.get("within", "90"))
    except ValueError:
        window = 90
    window = window if window in WINDOWS else 90
    rows = selectors.expiring(request.user, within_days=window)
    return render(
        request, "credentials/expiring.html", {"nav": "credentials", "rows": rows, "window": window, "windows": WINDOWS}
    )


@require_GET
@login_required
def clinician(request: HttpRequest, public_id: str) -> HttpResponse:
    person = policy.get_clinician_for(request.user, public_id)
    return render(
        request,
        "credentials/clinician.html",
        {
            "nav": "credentials",
            "person": person,
            "file": selectors.credential_file(person),
            "profile": getattr(person, "clinician_profile", None),
        },
    )


@require_GET
@login_required
def check(request: HttpRequest) -> HttpResponse:
    _require_oversight(request)
    form = EligibilityForm(
        request.GET or None, clinicians=policy.visible_clinicians(request.user).order_by("full_name")
    )
    decision = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        person = data["clinician"]
        creds = load_credentials([person.pk])[person.pk]
        decision = decide(
            creds,
            state=data["state"],
            at=data["at"] or timezone.now(),
            action=data["action"],
            drug=data["drug"] or "",
            payer=data["payer"].code if data["payer"] else "",
        )
    return render(
        request,
        "credentials/check.html",
        {"nav": "credentials", "form": form, "decision": decision},
        status=400 if form.errors else 200,
    )
