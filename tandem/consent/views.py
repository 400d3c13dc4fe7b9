"""Authorizations, signing, emergency access and the accounting of disclosures."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent import documents, selectors, services
from tandem.consent.forms import (
    AuthorizationForm,
    BreakGlassForm,
    ReviewForm,
    RevokeForm,
    SendLinkForm,
    SignForm,
)
from tandem.consent.models import Authorization, SignedVia, SigningLink
from tandem.consent.pdf import pdf_response, render_pdf
from tandem.patients.models import Patient

CONSENT = services.CONSENT
logger = logging.getLogger(__name__)


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _meta(request: HttpRequest) -> audit.RequestMeta:
    return audit.RequestMeta.from_request(request)


def _record(request: HttpRequest, patient: Patient, action: Action, target_type: str, target_id: object) -> None:
    audit.record(
        actor=request.user if isinstance(request.user, User) else None,
        action=action,
        purpose=CONSENT,
        meta=_meta(request),
        patient_id=patient.public_id,
        target_type=target_type,
        target_id=str(target_id),
    )


def _consent_patient(request: HttpRequest, public_id: str) -> Patient:
    patient = policy.get_patient_for(request.user, public_id)
    if not policy.can_manage_consent(request.user, patient):
        raise Http404("Not found")
    return patient


@require_GET
@login_required
def authorization_list(request: HttpRequest, public_id: str) -> HttpResponse:
    with transaction.atomic():
        patient = _consent_patient(request, public_id)
        _record(request, patient, Action.LIST, "authorizations", patient.public_id)
    context = {
        "nav": "patients",
        "patient": patient,
        "rows": selectors.authorizations(patient),
        "templates": documents.available(),
        "requires_authorization": patient.practice.treatment_sharing_requires_authorization,
    }
    return render(request, "consent/list.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def authorization_new(request: HttpRequest, public_id: str, template_key: str) -> HttpResponse:
    patient = _consent_patient(request, public_id)
    try:
        template = documents.load(template_key)
    except documents.TemplateError:
        raise Http404("Not found") from None
    form = AuthorizationForm(
        request.POST if request.method == "POST" else None,
        template=template,
        parties=services.parties_for(patient),
        clinicians=services.named_clinicians(patient),
        today=patient.practice.local_date(),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            authorization = services.prepare(
                actor=_actor(request),
                patient=patient,
                template_key=template.key,
                discloser=data["discloser"],
                recipient=data["recipient"],
                mutual=data["mutual"],
                classes=data.get("classes", []),
                purpose=data["purpose"],
                expires_on=data["expires_on"],
                expiry_event=data["expiry_event"],
                recipient_clinician=data.get("recipient_clinician"),
                source_clinician=data.get("source_clinician"),
                cost_sharing=data.get("cost_sharing", ""),
                form_token=data["form_token"],
                meta=_meta(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "The authorization is ready to sign.")
            return redirect("consent:detail", patient.public_id, authorization.public_id)
    elif request.method == "GET":
        _record(request, patient, Action.VIEW, "authorization_form", template.key)
    status = 400 if form.errors else 200
    context = {"nav": "patients", "patient": patient, "template": template, "form": form}
    return render(request, "consent/new.html", context, status=status)


@require_GET
@login_required
def authorization_detail(request: HttpRequest, public_id: str, authorization_id: str) -> HttpResponse:
    with transaction.atomic():
        patient = _consent_patient(request, public_id)
        authorization = policy.get_authorization_for(request.user, patient, authorization_id)
        _record(request, patient, Action.VIEW, "authorization", authorization.public_id)
    links = list(authorization.links.order_by("-created_at")[:10])
    context = {
        "nav": "patients",
        "patient": patient,
        "authorization": authorization,
        "state": authorization.state_at(),
        "links": links,
        "send_form": SendLinkForm(),
        "revoke_form": RevokeForm(),
        "now": timezone.now(),
    }
    return render(request, "consent/detail.html", context)


@require_POST
@login_required
def send_link(request: HttpRequest, public_id: str, authorization_id: str) -> HttpResponse:
    patient = _consent_patient(request, public_id)
    authorization = policy.get_authorization_for(request.user, patient, authorization_id)
    form = SendLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose email or text message.")
    else:
        try:
            link, _token = services.send_link(
                actor=_actor(request),
                authorization=authorization,
                channel=form.cleaned_data["channel"],
                meta=_meta(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Signing link sent by {link.get_channel_display().lower()}.")
    return redirect("consent:detail", patient.public_id, authorization.public_id)


def _sign_form_page(
    request: HttpRequest, template: str, context: dict[str, object], form: SignForm, status: int = 200
) -> HttpResponse:
    return render(request, template, {**context, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def office_sign(request: HttpRequest, public_id: str, authorization_id: str) -> HttpResponse:
    """The patient signs on the clinician's device, in the office."""
    patient = _consent_patient(request, public_id)
    authorization = policy.get_authorization_for(request.user, patient, authorization_id)
    if authorization.status != "pending":
        messages.info(request, "This authorization is not waiting for a signature.")
        return redirect("consent:detail", patient.public_id, authorization.public_id)
    form = SignForm(request.POST if request.method == "POST" else None)
    # The device is in the patient's hands: no navigation into the rest of Tandem.
    context = {"patient": patient, "authorization": authorization, "office": True, "kiosk": True}
    if request.method == "POST" and form.is_valid():
        try:
            services.sign(
                authorization=authorization,
                signature=_signature(form),
                via=SignedVia.OFFICE,
                ip_address=audit.client_ip(request),
                meta=_meta(request),
                witness=_actor(request),
            )
        except services.LinkRefused:
            messages.info(request, "This authorization was already signed.")
        except ValidationError as exc:
            form.add_error(None, exc)
            return _sign_form_page(request, "consent/sign.html", context, form, 400)
        else:
            messages.success(request, "Signed. Give the patient their copy.")
        return redirect("consent:detail", patient.public_id, authorization.public_id)
    if request.method == "GET":
        _record(request, patient, Action.VIEW, "authorization_sign", authorization.public_id)
    return _sign_form_page(request, "consent/sign.html", context, form, 400 if form.errors else 200)


def _signature(form: SignForm) -> services.Signature:
    data = form.cleaned_data
    return services.Signature(
        name=data["signer_name"],
        agreed=bool(data["agree"]),
        role=data["signer_role"],
        representative_authority=data.get("representative_authority", ""),
        drawing=data.get("drawing", ""),
    )


REFUSALS = {
    "unknown": ("This link does not work", "Check that you opened the whole link from your message."),
    "used": ("This link was already used", "The form was signed with it. A link works only once."),
    "expired": ("This link has expired", "Ask your practice to send you a new one."),
    "withdrawn": ("This link no longer works", "Your practice has withdrawn it or sent a newer one."),
}


def _refused(request: HttpRequest, reason: str) -> HttpResponse:
    title, advice = REFUSALS.get(reason, REFUSALS["unknown"])
    return render(request, "consent/link_refused.html", {"title": title, "advice": advice}, status=410)


@require_http_methods(["GET", "POST"])
@never_cache
def patient_sign(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's page behind the secure link: no account needed."""
    try:
        link = policy.signing_link_for(token)
    except services.LinkRefused as exc:
        return _refused(request, exc.reason)
    authorization = link.authorization
    patient = authorization.patient
    form = SignForm(request.POST if request.method == "POST" else None)
    context = {"authorization": authorization, "patient": patient, "office": False, "public": True}
    if request.method == "POST" and form.is_valid():
        try:
            services.sign(
                authorization=authorization,
                signature=_signature(form),
                via=SignedVia.LINK,
                ip_address=audit.client_ip(request),
                meta=_meta(request),
                link=link,
            )
        except services.LinkRefused as exc:
            return _refused(request, exc.reason)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            emailed = False
            if link.channel == SigningLink.Channel.EMAIL and patient.email:
                try:
                    services.email_copy(Authorization.objects.get(pk=authorization.pk))
                    emailed = True
                except Exception:  # the signature stands; the download below still works
                    logger.exception("The signed copy could not be emailed")
            return render(
                request,
                "consent/signed.html",
                {"authorization": authorization, "token": token, "public": True, "emailed": emailed},
            )
    if request.method == "GET":
        _record(request, patient, Action.VIEW, "signing_link", link.public_id)
    return render(request, "consent/sign.html", {**context, "form": form}, status=400 if form.errors else 200)


@require_GET
@never_cache
def patient_copy(request: HttpRequest, token: str) -> HttpResponse:
    """The signer's own copy, for an hour after signing through the link."""
    try:
        link = policy.signed_copy_for(token)
    except services.LinkRefused as exc:
        return _refused(request, exc.reason)
    authorization = Authorization.objects.select_related("patient").get(pk=link.authorization_id)
    _record(request, authorization.patient, Action.EXPORT, "authorization_pdf", authorization.public_id)
    return pdf_response(services.signed_pdf(authorization), "signed-authorization.pdf")


@require_GET
@login_required
def authorization_pdf(request: HttpRequest, public_id: str, authorization_id: str) -> HttpResponse:
    patient = _consent_patient(request, public_id)
    authorization = policy.get_authorization_for(request.user, patient, authorization_id)
    if not authorization.pdf_sha256:
        raise Http404("Not found")
    _record(request, patient, Action.EXPORT, "authorization_pdf", authorization.public_id)
    return pdf_response(services.signed_pdf(authorization), f"authorization-{authorization.signed_at:%Y-%m-%d}.pdf")


@require_POST
@login_required
def email_copy(request: HttpRequest, public_id: str, authorization_id: str) -> HttpResponse:
    patient = _consent_patient(request, public_id)
    authorization = policy.get_authorization_for(request.user, patient, authorization_id)
    if not authorization.pdf_sha256:
        raise Http404("Not found")
    try:
        services.email_copy(authorization)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        _record(request, patient, Action.SEND, "authorization_pdf", authorization.public_id)
        messages.success(request, f"A copy went to {patient.email}.")
    return redirect("consent:detail", patient.public_id, authorization.public_id)


@require_POST
@login_required
def revoke(request: HttpRequest, public_id: str, authorization_id: str) -> HttpResponse:
    patient = _consent_patient(request, public_id)
    authorization = policy.get_authorization_for(request.user, patient, authorization_id)
    form = RevokeForm(request.POST)
    if authorization.status == "pending" or form.is_valid():
        try:
            services.revoke(
                actor=_actor(request),
                authorization=authorization,
                note=form.cleaned_data.get("note", "") if form.is_valid() else "",
                meta=_meta(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Revoked. It stops sharing from the next page anyone opens.")
    else:
        messages.error(request, "Write how the patient revoked it.")
    return redirect("consent:detail", patient.public_id, authorization.public_id)


@require_POST
@login_required
def expiry_event(request: HttpRequest, public_id: str, authorization_id: str) -> HttpResponse:
    patient = _consent_patient(request, public_id)
    authorization = policy.get_authorization_for(request.user, patient, authorization_id)
    try:
        services.record_expiry_event(actor=_actor(request), authorization=authorization, meta=_meta(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Recorded: the expiry event happened, and the authorization has ended.")
    return redirect("consent:detail", patient.public_id, authorization.public_id)


# --- Emergency access --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def break_glass(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    sharing = policy.sharing_for(request.user, patient)
    if not policy.can_break_glass(request.user, sharing):
        raise Http404("Not found")
    form = BreakGlassForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            grant = services.break_glass(
                actor=_actor(request), patient=patient, reason=form.cleaned_data["reason"], meta=_meta(request)
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.warning(
                request, f"Emergency access until {timezone.localtime(grant.expires_at):%H:%M}. It is being reviewed."
            )
            return redirect("patients:chart", patient.public_id)
    elif request.method == "GET":
        _record(request, patient, Action.VIEW, "break_glass_form", patient.public_id)
    context = {"nav": "patients", "patient": patient, "form": form, "minutes": settings.BREAK_GLASS_MINUTES}
    return render(request, "consent/break_glass.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def break_glass_review(request: HttpRequest) -> HttpResponse:
    practices = policy.privacy_review_organizations(request.user)
    if not practices:
        raise Http404("Not found")
    rows = list(selectors.break_glass_for_review(practices)[:200])
    audit.record(
        actor=_actor(request),
        action=Action.LIST,
        purpose="privacy_review",
        meta=_meta(request),
        target_type="break_glass",
    )
    context = {
        "nav": "organization",
        "pending": [g for g in rows if g.reviewed_at is None],
        "reviewed": [g for g in rows if g.reviewed_at is not None],
        "form": ReviewForm(),
        "now": timezone.now(),
    }
    return render(request, "consent/break_glass_review.html", context)


@require_POST
@login_required
def break_glass_signoff(request: HttpRequest, grant_id: str) -> HttpResponse:
    grant = policy.get_break_glass_for_review(request.user, grant_id)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.review_break_glass(
                actor=_actor(request), grant=grant, note=form.cleaned_data["note"], meta=_meta(request)
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Signed off.")
    else:
        messages.error(request, "Write what the review found.")
    return redirect("consent:break_glass_review")


# --- Accounting of disclosures -----------------------------------------------------------------


def _disclosure_patient(request: HttpRequest, public_id: str) -> Patient:
    patient = policy.get_patient_for(request.user, public_id)
    if not policy.can_view_disclosures(request.user, patient):
        raise Http404("Not found")
    return patient


DISCLOSURE_PAGE = 200


@require_GET
@login_required
def disclosures(request: HttpRequest, public_id: str) -> HttpResponse:
    with transaction.atomic():
        patient = _disclosure_patient(request, public_id)
        _record(request, patient, Action.VIEW, "disclosures", patient.public_id)
    rows = list(selectors.disclosures(patient)[:DISCLOSURE_PAGE])
    return render(request, "consent/disclosures.html", {"nav": "patients", "patient": patient, "rows": rows})


@require_GET
@login_required
def disclosures_pdf(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = _disclosure_patient(request, public_id)
    _record(request, patient, Action.EXPORT, "disclosures_pdf", patient.public_id)
    rows = list(selectors.disclosures(patient))
    content = render_pdf(
        "consent/pdf/accounting.html", {"patient": patient, "rows": rows, "generated_at": timezone.now()}
    )
    return pdf_response(content, f"disclosures-{patient.mrn}.pdf")
