"""Admins manage their organization's members in the app."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.accounts import services as account_services
from tandem.accounts.models import User
from tandem.accounts.views import sudo_required
from tandem.audit import services as audit
from tandem.organizations import services
from tandem.organizations.forms import InviteForm, RoleForm
from tandem.organizations.models import Membership, Partnership


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@require_GET
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    orgs = policy.administered_organizations(request.user)
    if not orgs:
        raise Http404("Not found")
    return redirect("organizations:members", orgs[0].public_id)


@require_GET
@login_required
def members(request: HttpRequest, org_id: str) -> HttpResponse:
    organization = policy.get_administered_organization(request.user, org_id)
    rows = (
        Membership.objects.filter(organization=organization)
        .select_related("user", "user__mfa_device")
        .order_by("-is_active", "user__full_name")
    )
    partnerships = Partnership.objects.filter(Q(practice=organization) | Q(group=organization)).select_related(
        "practice", "group"
    )
    today = organization.local_date()
    context = {
        "nav": "organization",
        "organization": organization,
        "members": rows,
        "partnerships": [(p, p.is_active_on(p.practice.local_date())) for p in partnerships],
        "today": today,
        "orgs": policy.administered_organizations(request.user),
        "invite_form": InviteForm(organization=organization),
    }
    return render(request, "organizations/members.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def member_invite(request: HttpRequest, org_id: str) -> HttpResponse:
    organization = policy.get_administered_organization(request.user, org_id)
    form = InviteForm(request.POST if request.method == "POST" else None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.member_invite(
                actor=_actor(request),
                organization=organization,
                base_url=request.build_absolute_uri("/"),
                meta=audit.RequestMeta.from_request(request),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{membership.user.full_name} was added. An invitation email is on its way.")
            return redirect("organizations:members", organization.public_id)
    status = 400 if form.errors else 200
    return render(
        request,
        "organizations/invite.html",
        {"nav": "organization", "organization": organization, "form": form},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@login_required
@sudo_required
def member_role(request: HttpRequest, org_id: str, member_id: str) -> HttpResponse:
    organization = policy.get_administered_organization(request.user, org_id)
    membership = policy.get_membership_for_admin(request.user, organization, member_id)
    form = RoleForm(
        request.POST if request.method == "POST" else None, organization=organization, initial={"role": membership.role}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_change_role(
                actor=_actor(request),
                membership=membership,
                role=form.cleaned_data["role"],
                meta=audit.RequestMeta.from_request(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{membership.user.full_name} is now {membership.get_role_display().lower()}.")
            return redirect("organizations:members", organization.public_id)
    status = 400 if form.errors else 200
    return render(
        request,
        "organizations/member_role.html",
        {"nav": "organization", "organization": organization, "membership": membership, "form": form},
        status=status,
    )


@require_POST
@login_required
@sudo_required
def member_active(request: HttpRequest, org_id: str, member_id: str) -> HttpResponse:
    organization = policy.get_administered_organization(request.user, org_id)
    membership = policy.get_membership_for_admin(request.user, organization, member_id)
    active = request.POST.get("active") == "1"
    try:
        services.membership_set_active(
            actor=_actor(request), membership=membership, active=active, meta=audit.RequestMeta.from_request(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user.full_name} is {'active again' if active else 'deactivated'}.")
    return redirect("organizations:members", organization.public_id)


@require_POST
@login_required
@sudo_required
def member_reset_mfa(request: HttpRequest, org_id: str, member_id: str) -> HttpResponse:
    organization = policy.get_administered_organization(request.user, org_id)
    membership = policy.get_membership_for_admin(request.user, organization, member_id)
    account_services.mfa_reset(
        user=membership.user, actor=_actor(request), meta=audit.RequestMeta.from_request(request)
    )
    messages.success(request, f"{membership.user.full_name} will set up a new authenticator at their next sign-in.")
    return redirect("organizations:members", organization.public_id)


@require_POST
@login_required
@sudo_required
def sharing_policy(request: HttpRequest, org_id: str) -> HttpResponse:
    organization = policy.get_administered_organization(request.user, org_id)
    choice = request.POST.get("requires_authorization")
    if choice not in {"yes", "no"} or not organization.is_practice:
        messages.error(request, "Choose whether sharing for treatment needs a signed authorization.")
        return redirect("organizations:members", organization.public_id)
    changed = services.set_treatment_sharing(
        actor=_actor(request),
        organization=organization,
        requires_authorization=choice == "yes",
        meta=audit.RequestMeta.from_request(request),
    )
    messages.success(request, "Sharing policy saved." if changed else "Nothing changed.")
    return redirect("organizations:members", organization.public_id)
