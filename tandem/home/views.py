"""Each role's "today" page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from tandem.access import policy
from tandem.accounts.models import User
from tandem.measures.alerts import open_alerts_for
from tandem.messaging.services import unread_for
from tandem.organizations.models import CLINICAL_ROLES
from tandem.patients import selectors as patient_selectors
from tandem.records.notes import awaiting_cosignature
from tandem.referrals.selectors import tasks as referral_tasks
from tandem.scheduling.selectors import agenda_for_day
from tandem.video.services import waiting_for


@require_GET
def root(request: HttpRequest) -> HttpResponse:
    return redirect("home:today" if request.user.is_authenticated else "accounts:sign_in")


@require_GET
@login_required
def today(request: HttpRequest) -> HttpResponse:
    st = policy.standing(request.user)
    caseload = patient_selectors.my_caseload(request.user)
    context = {
        "nav": "today",
        "memberships": st.memberships,
        "caseload": caseload[:10],
        "caseload_count": len(caseload),
        "appointments": agenda_for_day(request.user) if isinstance(request.user, User) else [],
        "tasks": [],
        "referral_tasks": referral_tasks(request.user),
        "is_clinician": bool(st.orgs_with(CLINICAL_ROLES)),
        "waiting": waiting_for(request.user) if isinstance(request.user, User) else [],
        "alerts": unread_for(request.user) if isinstance(request.user, User) else [],
        "admin_orgs": policy.administered_organizations(request.user),
        "overdue_notes": policy.overdue_drafts(request.user),
        "escalated_notes": policy.escalated_drafts(request.user),
        "to_cosign": awaiting_cosignature(request.user) if isinstance(request.user, User) else [],
        "safety_alerts": open_alerts_for(request.user) if isinstance(request.user, User) else [],
    }
    return render(request, "home/today.html", context)
