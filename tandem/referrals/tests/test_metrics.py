"""Access measures: the statistics on known data, who sees them, the chart,
the CSV export, the audit trail and the query budget."""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo
from xml.etree import ElementTree as ET

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tandem.accounts.models import User
from tandem.audit.models import AuditEvent
from tandem.organizations.models import Membership, Organization, OrganizationKind, Partnership, Role
from tandem.patients.models import Patient
from tandem.referrals import charts, metrics
from tandem.referrals.models import Referral, State, Urgency
from tandem.scheduling.models import Appointment
from tandem.scheduling.services import ensure_types
from tandem.test import Cast, make_patient, make_user, sign_in

UTC = datetime.UTC
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
PAGE = "referrals:metrics"
CSV = "referrals:metrics_csv"

# Session, user, memberships, partnerships (a group's staff only), the one
# read of the referrals, then the audit event: savepoint, chain head, insert,
# release. 8 for a practice admin and 9 for a group's staff on SQLite;
# PostgreSQL adds one, the audit chain's lock. The budgets are PostgreSQL's.
PAGE_BUDGET = 10
CSV_BUDGET = 10


def at(day: str, hour: int = 0) -> datetime.datetime:
    return datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def days(n: float) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def _patient_of(practice: Organization) -> Patient:
    found = Patient.objects.filter(practice=practice).first()
    return found or make_patient(practice, "Jo", "Test", f"{practice.slug[:4].upper()}-1")


def refer(
    cast: Cast,
    submitted: datetime.datetime | None,
    *,
    triage: float | None = None,
    schedule: float | None = None,
    visit: float | None = None,
    completed: bool = True,
    urgency: str = Urgency.ROUTINE,
    practice: Organization | None = None,
    group: Organization | None = None,
) -> Referral:
    """A referral with the given days from submission to each step."""
    practice = practice or cast.riverbend
    status = State.DRAFT if submitted is None else State.SUBMITTED
    fields: dict[str, object] = {}
    if submitted is not None and triage is not None:
        fields["triaged_at"] = submitted + days(triage)
        status = State.TRIAGED
    if submitted is not None and schedule is not None:
        fields["scheduled_at"] = submitted + days(schedule)
        status = State.SCHEDULED
        group = group or cast.northstar
    if submitted is not None and visit is not None:
        host = group or cast.northstar
        evaluation = next(t for t in ensure_types(host) if t.kind == "psych_eval")
        starts_at = submitted + days(visit)
        fields["appointment"] = Appointment.objects.create(
            organization=host,
            appointment_type=evaluation,
            patient=_patient_of(practice),
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(hours=1),
            modality="video_home",
            status="completed" if completed else "booked",
            created_by=cast.prescriber,
        )
        if completed:
            fields["completed_at"] = starts_at + datetime.timedelta(hours=1)
            status = State.COMPLETED
    return Referral.objects.create(
        patient=_patient_of(practice),
        practice=practice,
        referred_by=cast.therapist,
        location_state="OR",
        urgency=urgency,
        status=status,
        submitted_at=submitted,
        group=group,
        prescriber=cast.prescriber if group else None,
        **fields,
    )


def organization(name: str, slug: str, kind: str) -> Organization:
    return Organization.objects.create(name=name, slug=slug, kind=kind, timezone="America/Los_Angeles", states=["OR"])


def coordinator(org: Organization, email: str = "coordinator@northstar.test") -> User:
    user = make_user(email, "Alex Kim")
    Membership.objects.create(user=user, organization=org, role=Role.COORDINATOR)
    return user


@pytest.fixture
def eastlake(cast: Cast) -> Organization:
    return organization("Eastlake Psychiatry", "eastlake", OrganizationKind.GROUP)


@pytest.fixture
def known(cast: Cast, eastlake: Organization) -> dict[str, Referral]:
    """Six submitted referrals and a draft, with round durations (see the tests for the sums)."""
    return {
        # 03:00 UTC on May 1 is still April 30 in Portland.
        "a": refer(cast, at("2026-05-01", 3), triage=1, schedule=2, visit=4, urgency=Urgency.URGENT),
        "b": refer(cast, at("2026-05-10"), triage=2, schedule=5, visit=10),
        "c": refer(cast, at("2026-04-03"), triage=0.5, schedule=3, visit=6, group=eastlake),
        "d": refer(cast, at("2026-06-01"), triage=3, urgency=Urgency.SOON),
        # Booked, first visit not completed: no first-visit time yet.
        "e": refer(
            cast,
            at("2026-06-02"),
            triage=1,
            schedule=1,
            visit=2,
            completed=False,
            urgency=Urgency.URGENT,
            practice=cast.lakeside,
        ),
        # Older than the monthly series, still in the totals.
        "f": refer(cast, at("2025-01-10"), triage=4, schedule=8, visit=20),
        "draft": refer(cast, None),
    }


# --- The statistics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.5, 7.0),
        ([7.0], 0.9, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),  # even count: the mean of the middle two
        ([10.0, 1.0, 5.0], 0.5, 5.0),  # unsorted input
        ([float(i) for i in range(1, 11)], 0.9, 9.1),  # rank 8.1: 9 + 0.1 x (10 - 9)
        ([1.0, 2.0], 0.9, 1.9),
        ([3.0, 1.0, 2.0], 0.0, 1.0),
        ([3.0, 1.0, 2.0], 1.0, 3.0),
    ],
)
def test_percentile_interpolates_between_closest_ranks(values: list[float], q: float, expected: float | None) -> None:
    result = metrics.percentile(values, q)
    assert result == pytest.approx(expected) if expected is not None else result is None


def test_percentile_refuses_a_quantile_outside_zero_to_one() -> None:
    with pytest.raises(ValueError):
        metrics.percentile([1.0], 1.5)


def test_summary_of_one_and_of_none() -> None:
    assert metrics.Summary.of([2.5]) == metrics.Summary(n=1, median=2.5, p90=2.5)
    empty = metrics.Summary.of([])
    assert (empty.n, empty.median, empty.p90, empty.median_display) == (0, None, None, "—")


def _figures(summary: metrics.Summary) -> tuple[int, float | None, float | None]:
    return (
        summary.n,
        None if summary.median is None else round(summary.median, 6),
        None if summary.p90 is None else round(summary.p90, 6),
    )


@pytest.mark.django_db
def test_overall_figures_on_known_data(known: dict[str, Referral]) -> None:
    result = metrics.compute(Referral.objects.all(), now=NOW, tz=UTC)
    overall = result.overall
    assert overall.referrals == 6  # the draft is not counted
    # Triage: 0.5 1 1 2 3 4 -> median (1+2)/2, p90 at rank 4.5: 3 + 0.5 x 1.
    assert _figures(overall.triage) == (6, 1.5, 3.5)
    # Scheduling: 1 2 3 5 8 -> median 3, p90 at rank 3.6: 5 + 0.6 x 3.
    assert _figures(overall.scheduling) == (5, 3.0, 6.8)
    # First visit: completed only, 4 6 10 20 -> median 8, p90 at rank 2.7: 10 + 0.7 x 10.
    assert _figures(overall.first_visit) == (4, 8.0, 17.0)


@pytest.mark.django_db
def test_breakdowns_by_group_practice_and_urgency(known: dict[str, Referral]) -> None:
    result = metrics.compute(Referral.objects.all(), now=NOW, tz=UTC)

    by_group = {row.label: row for row in result.breakdown("group").rows}
    assert list(by_group) == ["Eastlake Psychiatry", "Northstar Psychiatry", metrics.NO_GROUP]
    assert _figures(by_group["Eastlake Psychiatry"].first_visit) == (1, 6.0, 6.0)
    # Northstar: triage 1 1 2 4; first visit 4 10 20 (the Lakeside visit is not completed).
    assert _figures(by_group["Northstar Psychiatry"].triage) == (4, 1.5, 3.4)
    assert _figures(by_group["Northstar Psychiatry"].first_visit) == (3, 10.0, 18.0)
    assert _figures(by_group[metrics.NO_GROUP].triage) == (1, 3.0, 3.0)
    assert by_group[metrics.NO_GROUP].scheduling.n == 0

    by_practice = {row.label: row for row in result.breakdown("practice").rows}
    assert list(by_practice) == ["Lakeside Therapy", "Riverbend Counseling"]
    assert by_practice["Lakeside Therapy"].referrals == 1
    assert _figures(by_practice["Lakeside Therapy"].first_visit) == (0, None, None)
    assert _figures(by_practice["Riverbend Counseling"].first_visit) == (4, 8.0, 17.0)

    by_urgency = {row.label: row for row in result.breakdown("urgency").rows}
    assert list(by_urgency) == ["Urgent", "Soon", "Routine"]
    assert _figures(by_urgency["Urgent"].triage) == (2, 1.0, 1.0)
    assert _figures(by_urgency["Urgent"].first_visit) == (1, 4.0, 4.0)
    # Routine: first visits 6 10 20 -> median 10, p90 at rank 1.8: 10 + 0.8 x 10.
    assert _figures(by_urgency["Routine"].first_visit) == (3, 10.0, 18.0)
    assert by_urgency["Soon"].referrals == 1


@pytest.mark.django_db
def test_monthly_series_covers_twelve_months_by_month_of_submission(known: dict[str, Referral]) -> None:
    result = metrics.compute(Referral.objects.all(), now=NOW, tz=UTC)
    assert [p.key for p in result.monthly] == [
        "2025-07",
        "2025-08",
        "2025-09",
        "2025-10",
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-04",
        "2026-05",
        "2026-06",
    ]
    series = {p.key: _figures(p.first_visit) for p in result.monthly}
    assert series["2026-04"] == (1, 6.0, 6.0)
    # May: 4 and 10 -> median 7, p90 at rank 0.9: 4 + 0.9 x 6.
    assert series["2026-05"] == (2, 7.0, 9.4)
    assert series["2026-06"] == (0, None, None)  # booked, not yet seen
    assert sum(n for n, _m, _p in series.values()) == 3  # the 2025 referral is outside the window


@pytest.mark.django_db
def test_months_are_those_of_the_given_time_zone(known: dict[str, Referral]) -> None:
    portland = zoneinfo.ZoneInfo("America/Los_Angeles")
    series = {p.key: p.first_visit.n for p in metrics.compute(Referral.objects.all(), now=NOW, tz=portland).monthly}
    assert (series["2026-04"], series["2026-05"]) == (2, 1)


@pytest.mark.django_db
def test_a_step_recorded_before_submission_is_left_out(cast: Cast) -> None:
    refer(cast, at("2026-06-01"), triage=-1, schedule=2)
    overall = metrics.compute(Referral.objects.all(), now=NOW, tz=UTC).overall
    assert (overall.triage.n, overall.scheduling.n) == (0, 1)


@pytest.mark.django_db
def test_no_referrals_is_empty(cast: Cast) -> None:
    refer(cast, None)
    result = metrics.compute(Referral.objects.all(), now=NOW, tz=UTC)
    assert result.is_empty and not result.has_monthly_data
    assert len(result.monthly) == 12


@pytest.mark.django_db
def test_computing_reads_once_however_many_referrals(cast: Cast, eastlake: Organization) -> None:
    refer(cast, at("2026-05-01"), triage=1, schedule=2, visit=3)
    with CaptureQueriesContext(connection) as few:
        metrics.compute(Referral.objects.all(), now=NOW, tz=UTC)
    for i in range(24):
        refer(cast, at("2026-05-02") + days(i), triage=1, schedule=2, visit=3, group=eastlake if i % 2 else None)
    with CaptureQueriesContext(connection) as many:
        metrics.compute(Referral.objects.all(), now=NOW, tz=UTC)
    assert len(few.captured_queries) == len(many.captured_queries) == 1


# --- The chart ----------------------------------------------------------------------------------


def _point(month: str, values: list[float]) -> metrics.MonthPoint:
    return metrics.MonthPoint(datetime.date.fromisoformat(month + "-01"), metrics.Summary.of(values))


def _months(values: dict[str, list[float]]) -> list[metrics.MonthPoint]:
    keys = [f"2025-{m:02d}" for m in range(7, 13)] + [f"2026-{m:02d}" for m in range(1, 7)]
    return [_point(k, values.get(k, [])) for k in keys]


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def _assert_accessible_and_csp_safe(root: ET.Element) -> None:
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title is not None and title.text and desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    for element in root.iter():
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
        assert element.tag not in {SVG + "script", SVG + "style", SVG + "foreignObject"}


def test_chart_is_well_formed_accessible_svg_with_a_legend_and_axis_labels() -> None:
    markup = str(charts.first_visit_chart(_months({"2026-03": [2, 6], "2026-04": [3, 9, 12], "2026-06": [5]})))
    root = _parse(markup)
    _assert_accessible_and_csp_safe(root)
    texts = [t.text for t in root.iter(SVG + "text")]
    assert {"Median", "90th percentile", "Days", "Month the referral was submitted"} <= set(texts)
    assert "Jul" in texts and "2025" in texts and "2026" in texts  # the year under July and January
    desc = root.find(SVG + "desc")
    assert desc is not None and "3 of 12 months" in (desc.text or "")
    # March and April join; June stands alone after the gap in May.
    median = next(g for g in root.iter(SVG + "g") if g.get("class") == "series median")
    assert len(median.findall(SVG + "path")) == 1
    assert len(median.findall(SVG + "circle")) == 3
    p90 = next(g for g in root.iter(SVG + "g") if g.get("class") == "series p90")
    assert p90.find(SVG + "path").get("stroke-dasharray")  # type: ignore[union-attr]
    tips = [t.text for t in median.iter(SVG + "title")]
    assert tips[1] == "Apr 2026: median 9.0 days, 90th percentile 11.4 days, 3 first visits"


def test_chart_without_data_says_so() -> None:
    root = _parse(str(charts.first_visit_chart(_months({}))))
    _assert_accessible_and_csp_safe(root)
    assert not list(root.iter(SVG + "path"))
    words = " ".join(t.text or "" for t in root.iter(SVG + "text"))
    assert "No completed first visits" in words


def test_axis_steps_are_round() -> None:
    assert charts.nice_scale(17.0) == (5.0, 20.0)
    assert charts.nice_scale(0.3) == pytest.approx((0.2, 1.0))
    assert charts.nice_scale(48.0) == (10.0, 50.0)


# --- Who sees the measures ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("route", [PAGE, CSV])
@pytest.mark.parametrize("who", ["therapist", "colleague", "prescriber", "unrelated", "outsider", "patient_user"])
def test_clinicians_and_patients_get_404(route: str, who: str, cast: Cast) -> None:
    refer(cast, at("2026-05-01"), triage=1)
    response = sign_in(Client(), cast.everyone()[who]).get(reverse(route))
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(target_type="referral_metrics").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("route", [PAGE, CSV])
def test_admins_and_group_coordinators_see_them(route: str, cast: Cast) -> None:
    for user in (cast.admin, cast.group_admin, coordinator(cast.northstar)):
        assert sign_in(Client(), user).get(reverse(route)).status_code == 200, user.email


@pytest.mark.django_db
def test_a_practice_coordinator_does_not_see_them(cast: Cast) -> None:
    # Only a practice's admins: a coordinator oversees measures from a group.
    user = coordinator(cast.riverbend, "coordinator@riverbend.test")
    assert not metrics.can_view_referral_metrics(user)
    assert sign_in(Client(), user).get(reverse(PAGE)).status_code == 404


@pytest.mark.django_db
def test_signed_out_visitors_are_sent_to_sign_in_and_writes_are_refused(cast: Cast) -> None:
    for route in (PAGE, CSV):
        assert Client().get(reverse(route)).status_code == 302
        assert sign_in(Client(), cast.admin).post(reverse(route)).status_code == 405


@pytest.mark.django_db
def test_each_viewer_counts_only_the_referrals_they_oversee(cast: Cast, known: dict[str, Referral]) -> None:
    # A prescriber who is also Lakeside's admin sees Lakeside's, not the ones they took.
    Membership.objects.create(user=cast.unrelated, organization=cast.lakeside, role=Role.PRACTICE_ADMIN)
    harbor = organization("Harbor Therapy", "harbor", OrganizationKind.PRACTICE)
    refer(cast, at("2026-05-03"), triage=1, practice=harbor)  # partnered with nobody
    counts = {
        who: metrics.referral_metrics_scope(user, NOW).filter(submitted_at__isnull=False).count()
        for who, user in [("admin", cast.admin), ("group_admin", cast.group_admin), ("unrelated", cast.unrelated)]
    }
    # Riverbend's five submitted referrals; Lakeside's one; Harbor's goes to no one.
    assert counts == {"admin": 5, "group_admin": 5, "unrelated": 1}
    assert metrics.referral_metrics_scope(cast.therapist, NOW).count() == 0


@pytest.mark.django_db
def test_a_group_does_not_see_drafts_or_a_former_partners_referrals(cast: Cast) -> None:
    refer(cast, None)
    refer(cast, at("2026-05-01"), triage=1)
    assert metrics.referral_metrics_scope(cast.group_admin, NOW).count() == 1
    Partnership.objects.filter(pk=cast.partnership.pk).update(ends_on=datetime.date(2026, 1, 31))
    assert metrics.referral_metrics_scope(cast.group_admin, NOW).count() == 0


# --- The page -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_shows_headline_tables_chart_and_data_table(cast: Cast, known: dict[str, Referral]) -> None:
    with time_machine.travel(NOW, tick=False):
        response = sign_in(Client(), cast.admin).get(reverse(PAGE))
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["nav"] == "referrals"
    # Riverbend's completed first visits: 4 6 10 20 -> median 8.0, p90 17.0.
    assert "<strong>8.0 days</strong>" in html and "<strong>17.0 days</strong>" in html
    for heading in ("By group", "By practice", "By urgency"):
        assert heading in html
    assert "<svg" in html and 'role="img"' in html
    assert "<details>" in html and "The chart's figures as a table" in html
    assert reverse(CSV) in html
    assert "Lakeside" not in html  # not Riverbend's
    for identifying in ("Avery", "Quintero", "RB-000001"):
        assert identifying not in html
    assert 'style="' not in html


@pytest.mark.django_db
def test_page_without_referrals_says_so(cast: Cast) -> None:
    html = sign_in(Client(), cast.group_admin).get(reverse(PAGE)).content.decode()
    assert "No referral has been submitted yet" in html
    assert "<svg" not in html.split("<main", 1)[1]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "action"), [(PAGE, "list"), (CSV, "export")])
def test_each_view_records_one_audit_event_without_a_patient(
    route: str, action: str, cast: Cast, known: dict[str, Referral]
) -> None:
    client = sign_in(Client(), cast.group_admin)
    before = AuditEvent.objects.count()
    assert client.get(reverse(route)).status_code == 200
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    assert (event.action, event.purpose, event.target_type, event.patient_id, event.actor_id) == (
        action,
        "operations",
        "referral_metrics",
        None,
        cast.group_admin.pk,
    )


# --- The CSV ------------------------------------------------------------------------------------


def _csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.django_db
def test_csv_holds_the_figures_and_the_monthly_series(cast: Cast, known: dict[str, Referral]) -> None:
    with time_machine.travel(NOW, tick=False):
        response = sign_in(Client(), cast.group_admin).get(reverse(CSV))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="tandem-referral-access-20260615.csv"'
    rows = _csv(response)
    assert list(rows[0]) == ["dimension", "value", "measure", "n", "median_days", "p90_days"]
    table = {(r["dimension"], r["value"], r["measure"]): (r["n"], r["median_days"], r["p90_days"]) for r in rows}
    # Northstar sees Riverbend's five: first visits 4 6 10 20.
    assert table[("overall", "All referrals", "first_visit")] == ("4", "8.00", "17.00")
    assert table[("overall", "All referrals", "triage")] == ("5", "2.00", "3.60")
    assert table[("group", "Eastlake Psychiatry", "first_visit")] == ("1", "6.00", "6.00")
    assert table[("practice", "Riverbend Counseling", "scheduling")] == ("4", "4.00", "7.10")
    assert table[("urgency", "Soon", "first_visit")] == ("0", "", "")
    months = [r for r in rows if r["dimension"] == "month"]
    assert len(months) == 12 and {r["measure"] for r in months} == {"first_visit"}
    # The group admin's zone is Portland's, where the May 1, 03:00 UTC referral is April's.
    assert table[("month", "2026-04", "first_visit")] == ("2", "5.00", "5.80")
    assert table[("month", "2026-05", "first_visit")] == ("1", "10.00", "10.00")
    assert ("practice", "Lakeside Therapy", "triage") not in table
    text = response.content.decode()
    for identifying in ("Avery", "Quintero", "RB-000001", "Maya", "Priya"):
        assert identifying not in text


@pytest.mark.django_db
def test_csv_cells_never_start_a_formula(cast: Cast) -> None:
    practice = organization("=cmd|' /C calc'!A0", "formula", OrganizationKind.PRACTICE)
    Partnership.objects.create(practice=practice, group=cast.northstar, starts_on=datetime.date(2020, 1, 1))
    refer(cast, at("2026-05-01"), triage=1, practice=practice)
    rows = _csv(sign_in(Client(), cast.group_admin).get(reverse(CSV)))
    values = {r["value"] for r in rows if r["dimension"] == "practice"}
    assert values == {"'=cmd|' /C calc'!A0"}
    for row in rows:
        for cell in row.values():
            assert cell[:1] not in {"=", "+", "-", "@"}


# --- The query budget ---------------------------------------------------------------------------


def _grow(cast: Cast, groups: list[Organization], count: int) -> None:
    start = Referral.objects.count()
    for i in range(start, start + count):
        refer(
            cast,
            at("2026-01-05") + days(i * 5),
            triage=1 + i % 3,
            schedule=2 + i % 4,
            visit=5 + i % 7,
            completed=i % 5 != 4,
            urgency=list(Urgency)[i % 3],
            group=groups[i % len(groups)],
        )


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "budget"), [(PAGE, PAGE_BUDGET), (CSV, CSV_BUDGET)])
@pytest.mark.parametrize("who", ["admin", "group_admin"])
def test_queries_stay_within_budget_as_referrals_grow(
    route: str, budget: int, who: str, cast: Cast, eastlake: Organization, django_assert_max_num_queries
) -> None:
    client = sign_in(Client(), cast.everyone()[who])
    url = reverse(route)
    _grow(cast, [cast.northstar], 1)
    few = _queries(client, url)
    _grow(cast, [cast.northstar, eastlake], 24)
    assert Referral.objects.count() == 25
    with django_assert_max_num_queries(budget):
        many = _queries(client, url)
    assert few == many, f"{route}: {few} queries with one referral, {many} with 25"
