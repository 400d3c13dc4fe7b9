"""The demo psychiatrist's four decisions from the issue, through the command."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.accounts.models import User
from tandem.credentials.eligibility import load_credentials


def ask(*args: str) -> dict:
    out = io.StringIO()
    call_command("eligibility", "--clinician", "prescriber@northstar.demo", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def demo(db: None) -> None:
    call_command("demo", stdout=io.StringIO())


@pytest.mark.usefixtures("demo")
def test_the_demo_psychiatrist() -> None:
    see_wa = ask("--state", "WA", "--action", "see")
    assert see_wa["allowed"] is True
    assert set(see_wa) == {"allowed", "reasons", "rules_version"}
    assert ask("--state", "WA", "--action", "prescribe", "--drug", "sertraline")["allowed"] is True
    clonazepam = ask("--state", "WA", "--action", "prescribe", "--drug", "clonazepam")
    assert clonazepam["allowed"] is False
    assert [r["code"] for r in clonazepam["reasons"]] == ["dea_not_registered_in_state"]
    idaho = ask("--state", "ID", "--action", "see")
    assert idaho["allowed"] is False
    assert idaho["reasons"][0]["code"] == "no_licence"


@pytest.mark.usefixtures("demo")
def test_the_demo_np_and_billing() -> None:
    out = io.StringIO()
    call_command(
        "eligibility",
        "--clinician",
        "np@northstar.demo",
        "--state",
        "ID",
        "--action",
        "prescribe",
        "--drug",
        "sertraline",
        stdout=out,
    )
    assert json.loads(out.getvalue())["allowed"] is True
    assert ask("--state", "WA", "--action", "bill", "--payer", "Aetna")["allowed"] is True
    assert ask("--state", "WA", "--action", "bill", "--payer", "Medicare")["allowed"] is False


@pytest.mark.usefixtures("demo")
def test_at_moves_the_question_in_time() -> None:
    later = ask(
        "--state", "OR", "--action", "prescribe", "--drug", "methylphenidate", "--at", "2027-01-02T10:00:00-08:00"
    )
    assert later["allowed"] is False
    assert later["reasons"][0]["code"] == "telemedicine_rule_expired"


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize(
    "args",
    [
        ["--state", "WA", "--action", "prescribe"],
        ["--state", "WA", "--action", "see", "--at", "yesterday"],
        ["--state", "WA", "--action", "see", "--at", "2027-01-01T10:00:00"],
    ],
)
def test_bad_arguments_are_clear_errors(args: list[str]) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        ask(*args)


@pytest.mark.django_db
def test_credentials_load_in_a_fixed_number_of_queries() -> None:
    call_command("demo", stdout=io.StringIO())
    ids = list(User.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as one:
        load_credentials(ids[:1])
    with CaptureQueriesContext(connection) as many:
        loaded = load_credentials(ids)
    assert len(one) == len(many) == 7
    assert any(c.facts for c in loaded.values())
