"""Coverage, expiring credentials, one clinician's file, and the eligibility check."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.credentials import selectors, services
from tandem.credentials.eligibility import decide, load_credentials
from tandem.credentials.forms import EligibilityForm, ProfileForm, VerifyForm, credential_form_class
from tandem.credentials.models import KIND_MODELS, ClinicianProfile

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


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@require_http_methods(["GET", "POST"])
@login_required
def add(request: HttpRequest, public_id: str, kind: str) -> HttpResponse:
    person = policy.get_managed_clinician_for(request.user, public_id)
    if kind not in KIND_MODELS:
        raise Http404("Not found")
    form_class = credential_form_class(kind)
    form = form_class(request.POST if request.method == "POST" else None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        services.credential_add(
            actor=_actor(request), clinician=person, form=form, meta=audit.RequestMeta.from_request(request)
        )
        messages.success(request, "Credential added.")
        return redirect("credentials:clinician", person.public_id)
    return render(
        request,
        "credentials/add.html",
        {"nav": "credentials", "person": person, "form": form, "kind": kind},
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
def verify(request: HttpRequest, public_id: str, kind: str, credential_id: str) -> HttpResponse:
    person = policy.get_managed_clinician_for(request.user, public_id)
    credential = policy.get_credential_of(person, kind, credential_id)
    form = VerifyForm(request.POST)
    if form.is_valid():
        services.credential_verify(
            actor=_actor(request),
            credential=credential,
            source=form.cleaned_data["source"],
            meta=audit.RequestMeta.from_request(request),
        )
        messages.success(request, "Verification recorded.")
    else:
        messages.error(request, "Say what the credential was verified against.")
    return redirect("credentials:clinician", person.public_id)


@require_GET
@login_required
def document(request: HttpRequest, public_id: str, kind: str, credential_id: str) -> FileResponse:
    person = policy.get_clinician_for(request.user, public_id)
    credential = policy.get_credential_of(person, kind, credential_id)
    if not credential.document:
        raise Http404("Not found")
    response = FileResponse(
        credential.document.open("rb"), content_type=credential.document_type or "application/octet-stream"
    )
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_http_methods(["GET", "POST"])
@login_required
def profile(request: HttpRequest, public_id: str) -> HttpResponse:
    """Discipline and NPI: what the engine and claims need to know about the clinician."""
    person = policy.get_managed_clinician_for(request.user, public_id)
    instance = ClinicianProfile.objects.filter(user=person).first() or ClinicianProfile(user=person)
    form = ProfileForm(request.POST if request.method == "POST" else None, instance=instance)
    if request.method == "POST" and form.is_valid():
        services.profile_save(actor=_actor(request), form=form, meta=audit.RequestMeta.from_request(request))
        messages.success(request, "Saved.")
        return redirect("credentials:clinician", person.public_id)
    return render(
        request,
        "credentials/profile.html",
        {"nav": "credentials", "person": person, "form": form},
        status=400 if form.errors else 200,
    )
