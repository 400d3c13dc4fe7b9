from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit.services import verify_chain
from tandem.demo import seed
from tandem.organizations.models import Organization, Partnership
from tandem.patients.models import CareTeamMember, Patient


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def snapshot() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Organization.objects.count(),
        Patient.objects.count(),
        CareTeamMember.objects.count(),
        Partnership.objects.count(),
    )


@pytest.mark.django_db
def test_it_seeds_the_demo_world_and_prints_the_sign_ins() -> None:
    output = run()
    for spec in seed.USERS:
        assert spec.email in output
    assert "tandem-demo" in output and "JBSWY3DPEHPK3PXP" in output
    assert Patient.objects.filter(practice__slug="riverbend-counseling").count() == 40
    assert Patient.objects.filter(practice__slug="lakeside-therapy").count() == 10
    prescriber = User.objects.get(email="prescriber@northstar.demo")
    np = User.objects.get(email="np@northstar.demo")
    assert policy.visible_patients(prescriber).count() == 25
    assert policy.visible_patients(np).count() == 10
    assert not set(policy.visible_patients(prescriber)) & set(policy.visible_patients(np))
    assert policy.visible_patients(User.objects.get(email="therapist@lakeside.demo")).count() == 10
    assert (
        not policy.visible_patients(User.objects.get(email="therapist@lakeside.demo"))
        .filter(practice__slug="riverbend-counseling")
        .exists()
    )
    assert not Partnership.objects.filter(practice__slug="lakeside-therapy").exists()
    assert all(u.check_password("tandem-demo") for u in User.objects.filter(email__endswith=".demo")[:2])


@pytest.mark.django_db
def test_running_it_again_changes_nothing() -> None:
    run()
    before = snapshot()
    ids = set(Patient.objects.values_list("public_id", flat=True))
    assert "nothing changed" in run()
    assert snapshot() == before
    assert set(Patient.objects.values_list("public_id", flat=True)) == ids


@pytest.mark.django_db
def test_reset_rebuilds_it_from_scratch() -> None:
    run()
    before = snapshot()
    ids = set(Patient.objects.values_list("public_id", flat=True))
    run("--reset")
    assert snapshot() == before
    assert not ids & set(Patient.objects.values_list("public_id", flat=True))
    assert verify_chain().ok


def test_code_prints_the_current_demo_code() -> None:
    from tandem.accounts.services import totp

    output = run("--code").strip()
    assert output == totp(seed.TOTP_SECRET).now()
    assert len(output) == 6 and output.isdigit()
