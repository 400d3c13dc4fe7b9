"""Fixtures shared by every test: the cast, signed-in clients, and the audit
and signed-plan triggers, which must be lifted while a transactional test
flushes tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.test import Client

from tandem.audit import triggers
from tandem.plans import triggers as plan_triggers
from tandem.test import Cast, build_cast, sign_in


@pytest.fixture(autouse=True)
def private_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test keeps uploaded documents, attachments and signed PDFs in its own folder. Django resolves a
    field's storage once, at import, so each document field is pointed there."""
    from tandem.consent.models import Authorization
    from tandem.credentials.models import KIND_MODELS
    from tandem.messaging.models import Attachment

    storage = FileSystemStorage(location=tmp_path / "private", base_url=None)
    for model in KIND_MODELS.values():
        monkeypatch.setattr(model._meta.get_field("document"), "storage", storage)
    monkeypatch.setattr(Authorization._meta.get_field("pdf"), "storage", storage)
    monkeypatch.setattr(Attachment._meta.get_field("file"), "storage", storage)
    return tmp_path / "private"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On SQLite the test database is a file, as in production, so tests of
    concurrent writers (fifty bookings of one slot) get real locking between
    connections. Each run and each xdist worker gets a file of its own."""
    from django.conf import settings

    default = settings.DATABASES["default"]
    if default["ENGINE"] == "django.db.backends.sqlite3" and not default.get("TEST", {}).get("NAME"):
        default.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "tandem.sqlite3")


@pytest.fixture
def cast(db: None) -> Cast:
    return build_cast()


@pytest.fixture
def client_for(db: None):  # type: ignore[no-untyped-def]
    def make(user, *, sudo: bool = False) -> Client:  # type: ignore[no-untyped-def]
        return sign_in(Client(), user, sudo=sudo)

    return make


TRANSACTIONAL = {"transactional_db", "live_server", "live_url"}


@pytest.fixture(autouse=True)
def _triggers_around_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """Transactional tests end by emptying every table, which the append-only
    audit triggers and the guards on signed plan versions refuse. Lift them
    just before that flush; the flush's post_migrate signal puts them back
    (tandem.audit.apps, tandem.plans.apps)."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(TRANSACTIONAL & set(request.fixturenames)) or bool(
        marker is not None and marker.kwargs.get("transaction")
    )
    if transactional:
        # Set the database up inside this fixture so its flush runs after our teardown.
        request.getfixturevalue("_django_db_helper")
    yield
    if transactional:
        triggers.remove(connection)
        plan_triggers.remove(connection)
