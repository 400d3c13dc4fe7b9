"""Referral pages: write one from the chart, follow it, act on it, and the queue."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent.disclosures import Ledger, write_all
from tandem.records.models import Document
from tandem.referrals import services
from tandem.referrals.forms import BookForm, ReasonForm, ReferralForm, TriageForm
from tandem.referrals.metrics import can_view_referral_metrics
from tandem.referrals.models import URGENCY_ORDER, WAITING, Offer, OfferStatus, Referral, State, Urgency

QUEUE_LIMIT = 200


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _meta(request: HttpRequest) -> audit.RequestMeta:
    return audit.RequestMeta.from_request(request)


def _view_event(request: HttpRequest, referral: Referral) -> None:
    audit.record(
        actor=_actor(request),
        action=Action.VIEW,
        purpose=services.TREATMENT,
        meta=_meta(request),
        patient_id=referral.patient.public_id,
        target_type="referral",
        target_id=referral.public_id,
    )


def _form_token(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(request.POST.get("form_token", "")))
    except ValueError:
        return None


# --- Writing -------------------------------------------------------------------------------------


def _save(request: HttpRequest, form: ReferralForm, patient: Any, referral: Referral | None) -> HttpResponse | None:
    """Save the draft, and submit it when asked. None when the form had errors."""
    if not form.is_valid():
        return None
    actor = _actor(request)
    try:
        referral = services.save_draft(
            actor=actor,
            patient=patient,
            draft=form.draft(),
            meta=_meta(request),
            referral=referral,
            form_token=_form_token(request) if referral is None else None,
        )
    except services.TransitionRefused as exc:
        form.add_error(None, str(exc))
        return None
    if referral.status != State.DRAFT:
        # The same form sent twice: the first already went out.
        return redirect("referrals:detail", referral.public_id)
    if request.POST.get("action") == "submit":
        try:
            services.submit(actor=actor, referral=referral, meta=_meta(request))
        except services.TransitionRefused as exc:
            messages.error(request, f"The draft is saved but not sent. {exc}")
            return redirect("referrals:edit", referral.public_id)
        messages.success(request, "The referral is sent to the partner group.")
        return redirect("referrals:detail", referral.public_id)
    messages.success(request, "Draft saved.")
    return redirect("referrals:edit", referral.public_id)


@require_http_methods(["GET", "POST"])
@login_required
def new(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    if not policy.can_refer(request.user, patient):
        raise Http404("Not found")
    actor = _actor(request)
    documents = services.attachable_documents(actor, patient)
    if request.method == "POST":
        form = ReferralForm(request.POST, documents=documents)
        with transaction.atomic():
            response = _save(request, form, patient, None)
        if response is not None:
            return response
        status = 400
    else:
        latest = services.latest_attachments(actor, patient)
        form = ReferralForm(initial=ReferralForm.initial_for(patient, latest), documents=documents)
        status = 200
        audit.record(
            actor=actor,
            action=Action.VIEW,
            purpose=services.TREATMENT,
            meta=_meta(request),
            patient_id=patient.public_id,
            target_type="referral_form",
            target_id=patient.public_id,
        )
    context = {"nav": "patients", "patient": patient, "form": form, "form_token": uuid.uuid4(), "referral": None}
    return render(request, "referrals/form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def edit(request: HttpRequest, public_id: str) -> HttpResponse:
    referral = policy.get_referral_for(request.user, public_id)
    if referral.status != State.DRAFT or policy.REFERRING not in policy.referral_sides(request.user, referral):
        raise Http404("Not found")
    actor = _actor(request)
    documents = services.attachable_documents(actor, referral.patient)
    if request.method == "POST":
        form = ReferralForm(request.POST, documents=documents)
        with transaction.atomic():
            response = _save(request, form, referral.patient, referral)
        if response is not None:
            return response
        status = 400
    else:
        form = ReferralForm(initial=ReferralForm.initial_from(referral), documents=documents)
        status = 200
        _view_event(request, referral)
    context = {
        "nav": "patients",
        "patient": referral.patient,
        "form": form,
        "referral": referral,
        "problems": services.missing_for_submit(referral),
    }
    return render(request, "referrals/form.html", context, status=status)


# --- Following ------------------------------------------------------------------------------------


@require_GET
@login_required
def detail(request: HttpRequest, public_id: str) -> HttpResponse:
    referral = policy.get_referral_for(request.user, public_id)
    patient = referral.patient
    groups = policy.receiving_groups(referral.practice)
    sides = policy.referral_sides(request.user, referral, groups)
    with transaction.atomic():
        sharing = policy.sharing_for(request.user, patient)
        ledger = Ledger(sharing)
        record = f"referral:{referral.public_id}"
        shows_identity = ledger.note(patient.practice_id, InfoClass.DEMOGRAPHICS, record)
        shows_clinical = ledger.note(patient.practice_id, InfoClass.PROGRESS_NOTES, record)
        attachments = []
        for d in referral.attachments.select_related("author", "organization"):
            if ledger.note(d.organization_id, d.effective_class, f"document:{d.public_id}"):
                attachments.append(d)
        summary: list[Document] = []
        if referral.status == State.COMPLETED and referral.group_id and referral.appointment:
            day = referral.appointment.starts_at.date()
            for d in policy.visible_documents(sharing):
                if d.organization_id == referral.group_id and d.occurred_on >= day:
                    ledger.note(d.organization_id, d.effective_class, f"document:{d.public_id}")
                    summary.append(d)
        ledger.write()
        _view_event(request, referral)
    can_offer = bool(sides & {policy.RECEIVING, policy.BOOKING_THERAPIST}) and referral.status in WAITING
    ranking = services.current_ranking(referral) if can_offer else None
    pending = Offer.objects.filter(referral=referral, status=OfferStatus.PENDING).select_related("prescriber").first()
    context = {
        "nav": "referrals",
        "referral": referral,
        "patient": patient,
        "sides": sides,
        "shows_identity": shows_identity,
        "shows_clinical": shows_clinical,
        "withheld": not (shows_identity and shows_clinical),
        "attachments": attachments,
        "summary": summary,
        "events": referral.events.select_related("actor"),
        "offers": referral.offers.select_related("prescriber", "group"),
        "pending": pending,
        "clock": services.clock(referral),
        "ranking": ranking,
        "can": {name: services.allowed(name, referral.status, sides) for name in services.TRANSITIONS},
        "may_book": can_offer and services.allowed("book", referral.status, sides),
        "groups": groups,
        "chart_visible": policy.visible_patients(request.user).filter(pk=patient.pk).exists(),
        "triage_form": TriageForm(initial={"urgency": referral.urgency}),
    }
    return render(request, "referrals/detail.html", context)


_REASONED = {"decline": services.decline, "cancel": services.cancel}


@require_POST
@login_required
def act(request: HttpRequest, public_id: str, name: str) -> HttpResponse:
    referral = policy.get_referral_for(request.user, public_id)
    actor, meta = _actor(request), _meta(request)
    try:
        if name == "submit":
            services.submit(actor=actor, referral=referral, meta=meta)
        elif name == "triage":
            form = TriageForm(request.POST)
            if not form.is_valid():
                return _refused(request, referral, "Choose routine, soon or urgent; keep the note short.")
            services.triage(
                actor=actor,
                referral=referral,
                meta=meta,
                urgency=form.cleaned_data["urgency"],
                note=form.cleaned_data["note"],
            )
        elif name in _REASONED or name == "release":
            reason_form = ReasonForm(request.POST)
            if not reason_form.is_valid():
                return _refused(request, referral, "Give a reason, in under 300 characters.")
            reason = reason_form.cleaned_data["reason"]
            if name == "release":
                services.release(actor=actor, referral=referral, reason=reason, meta=meta)
            else:
                _REASONED[name](actor=actor, referral=referral, reason=reason, meta=meta)
        elif name in ("book", "offer"):
            book_form = BookForm(request.POST)
            if not book_form.is_valid():
                return _refused(request, referral, "Choose one of the offers shown.")
            prescriber = User.objects.filter(public_id=book_form.cleaned_data["prescriber"]).first()
            if prescriber is None:
                return _refused(request, referral, "Choose one of the offers shown.")
            if name == "book":
                services.book(
                    actor=actor,
                    referral=referral,
                    prescriber_id=prescriber.pk,
                    starts_at=book_form.cleaned_data["starts_at"],
                    meta=meta,
                )
            else:
                _offer(actor, referral, prescriber.pk, book_form.cleaned_data["starts_at"], meta)
        else:
            raise Http404("Not found")
    except services.TransitionRefused as exc:
        return _refused(request, referral, str(exc))
    messages.success(request, _DONE.get(name, "Done."))
    return redirect("referrals:detail", referral.public_id)


_DONE = {
    "submit": "The referral is sent to the partner group.",
    "triage": "Triaged.",
    "book": "The evaluation is booked and the referring therapist is told.",
    "offer": "The opening is held for the patient.",
    "release": "The offer is released; the referral is back in line.",
    "decline": "The referral is declined; the referring therapist is told.",
    "cancel": "The referral is cancelled.",
}


def _offer(actor: User, referral: Referral, prescriber_id: int, starts_at: Any, meta: audit.RequestMeta) -> None:
    from django.db import IntegrityError

    services.check_transition(referral, "offer", policy.referral_sides(actor, referral), "")
    ranking = services.current_ranking(referral)
    choice = next(
        (
            o
            for o in ranking.offers
            if o.candidate.clinician_id == prescriber_id and starts_at in (o.candidate.slots or ())
        ),
        None,
    )
    if choice is None:
        raise services.TransitionRefused("That opening is no longer available. Choose another.")
    choice = dataclasses.replace(choice, starts_at=starts_at)
    try:
        services.offer(referral=referral, choice=choice, meta=meta, actor=actor)
    except IntegrityError as exc:
        raise services.TransitionRefused("That opening is already held for another referral.") from exc


def _refused(request: HttpRequest, referral: Referral, message: str) -> HttpResponse:
    messages.error(request, message)
    response = redirect("referrals:detail", referral.public_id)
    response.status_code = 303
    return response


# --- The queue ------------------------------------------------------------------------------------


@require_GET
@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Open referrals, most urgent first, then oldest, with the time left; and
    the recent ones that have moved on."""
    rows = list(
        policy.visible_referrals(request.user)
        .exclude(status=State.DRAFT)
        .select_related("patient__practice", "practice", "referred_by", "payer", "prescriber")
        .order_by("-submitted_at")[:QUEUE_LIMIT]
    )
    drafts = list(
        policy.visible_referrals(request.user)
        .filter(status=State.DRAFT, referred_by=_actor(request))
        .select_related("patient__practice")
        .order_by("-updated_at")[:50]
    )
    now = timezone.now()
    with transaction.atomic():
        patients = {r.patient.pk: r.patient for r in rows + drafts}
        sharing = policy.sharing_for_patients(request.user, list(patients.values()))
        ledgers = {pk: Ledger(s) for pk, s in sharing.items()}
        for r in rows + drafts:
            ledger = ledgers.get(r.patient.pk)
            r.shows_identity = ledger is not None and ledger.note(  # type: ignore[attr-defined]
                r.practice_id, InfoClass.DEMOGRAPHICS, f"referral:{r.public_id}"
            )
            r.clock = services.clock(r, now)  # type: ignore[attr-defined]
        write_all(list(ledgers.values()))
        audit.record(
            actor=_actor(request),
            action=Action.LIST,
            purpose=services.TREATMENT,
            meta=_meta(request),
            target_type="referral_queue",
            detail={"rows": len(rows)},
        )
    waiting = sorted(
        (r for r in rows if r.status in WAITING),
        key=lambda r: (URGENCY_ORDER.get(Urgency(r.urgency), 9), r.submitted_at or now),
    )
    context = {
        "nav": "referrals",
        "waiting": waiting,
        "moved_on": [r for r in rows if r.status not in WAITING][:50],
        "drafts": drafts,
        "now": now,
        "can_see_metrics": can_view_referral_metrics(request.user),
    }
    return render(request, "referrals/queue.html", context)
