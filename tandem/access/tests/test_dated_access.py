"""A partner prescriber's access is limited to their care teams, and in time."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine

from tandem.access import policy
from tandem.organizations.models import Membership, Role
from tandem.patients.models import CareTeamMember, CareTeamRole
from tandem.test import Cast

LA = zoneinfo.ZoneInfo("America/Los_Angeles")


def visible(cast: Cast, who: str) -> set[str]:
    return {p.last_name for p in policy.visible_patients(cast.everyone()[who])}


@pytest.mark.django_db
def test_each_cast_member_sees_what_the_policy_says(cast: Cast) -> None:
    assert visible(cast, "therapist") == {"Quintero", "Wexford"}
    assert visible(cast, "colleague") == {"Quintero", "Wexford"}
    assert visible(cast, "admin") == {"Quintero", "Wexford"}
    assert visible(cast, "prescriber") == {"Quintero"}
    assert visible(cast, "group_admin") == {"Quintero"}
    assert visible(cast, "unrelated") == set()
    assert visible(cast, "outsider") == {"Halvorsen"}
    assert visible(cast, "patient_user") == set()


@pytest.mark.django_db
def test_an_ended_partnership_ends_the_prescribers_access(cast: Cast) -> None:
    cast.partnership.ends_on = datetime.date(2026, 3, 31)
    cast.partnership.save()
    # 11:30 pm in Oregon on the last day: still the partnership's day.
    with time_machine.travel(datetime.datetime(2026, 3, 31, 23, 30, tzinfo=LA), tick=False):
        assert visible(cast, "prescriber") == {"Quintero"}
    # Just after midnight in Oregon (already April 1 in UTC hours before).
    with time_machine.travel(datetime.datetime(2026, 4, 1, 0, 5, tzinfo=LA), tick=False):
        assert visible(cast, "prescriber") == set()
        assert visible(cast, "group_admin") == set()
        assert visible(cast, "therapist") == {"Quintero", "Wexford"}


@pytest.mark.django_db
def test_a_partnership_that_has_not_started_gives_nothing(cast: Cast) -> None:
    cast.partnership.starts_on = datetime.date(2030, 1, 1)
    cast.partnership.save()
    assert visible(cast, "prescriber") == set()


@pytest.mark.django_db
def test_leaving_the_care_team_ends_access_after_the_last_day(cast: Cast) -> None:
    member = CareTeamMember.objects.get(patient=cast.patient, user=cast.prescriber)
    member.ends_on = datetime.date(2026, 6, 30)
    member.save()
    with time_machine.travel(datetime.datetime(2026, 6, 30, 22, 0, tzinfo=LA), tick=False):
        assert visible(cast, "prescriber") == {"Quintero"}
    with time_machine.travel(datetime.datetime(2026, 7, 1, 0, 1, tzinfo=LA), tick=False):
        assert visible(cast, "prescriber") == set()


@pytest.mark.django_db
def test_a_team_row_through_another_group_does_not_count(cast: Cast) -> None:
    # The unrelated prescriber is put on the team, but under Lakeside, which
    # has no partnership: that opens nothing.
    CareTeamMember.objects.create(
        patient=cast.other_patient,
        user=cast.unrelated,
        organization=cast.lakeside,
        role=CareTeamRole.PRESCRIBER,
        starts_on=datetime.date(2020, 1, 1),
    )
    assert visible(cast, "unrelated") == set()


@pytest.mark.django_db
def test_a_deactivated_membership_sees_nothing(cast: Cast) -> None:
    Membership.objects.filter(user=cast.prescriber).update(is_active=False)
    cast.prescriber.refresh_from_db()
    assert visible(cast, "prescriber") == set()


@pytest.mark.django_db
def test_a_practice_coordinator_sees_the_practice(cast: Cast) -> None:
    Membership.objects.filter(user=cast.colleague).update(role=Role.COORDINATOR)
    cast.colleague.refresh_from_db()
    assert visible(cast, "colleague") == {"Quintero", "Wexford"}


@pytest.mark.django_db
def test_only_eligible_people_can_join_a_care_team(cast: Cast) -> None:
    names = {m.user.email for m in policy.eligible_care_team_members(cast.patient)}
    assert cast.prescriber.email in names and cast.unrelated.email in names
    assert cast.colleague.email in names
    assert cast.outsider.email not in names
    assert cast.admin.email not in names
    cast.partnership.ends_on = datetime.date(2021, 1, 1)
    cast.partnership.save()
    names = {m.user.email for m in policy.eligible_care_team_members(cast.patient)}
    assert cast.prescriber.email not in names
