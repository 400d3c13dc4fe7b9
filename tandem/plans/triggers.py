"""Database triggers that keep a signed plan version whole: nothing of it
may be deleted.

Migration 0002 refuses every insert and update that would change a locked
version (signed by at least one clinician). Deleting is a change too: a goal
dropped from a signed version, a signature removed, the version itself gone.
These triggers refuse those deletes, for any client, unless the whole plan
has been released for erasure (``Plan.erasing``), which only the removal of
an entire record sets (the demo reset does).

They live here rather than in a migration alone because a test database
flush has to lift them, as it lifts the audit triggers, and the post_migrate
signal then puts them back (tandem.plans.apps).
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from tandem.plans.models import LOCKED_MESSAGE as MESSAGE

# Each table whose rows belong to one version, with the column naming it.
CHILDREN = {
    "plans_goal": "version_id",
    "plans_intervention": "version_id",
    "plans_plansignature": "version_id",
    "plans_planacknowledgement": "version_id",
}
VERSIONS = "plans_planversion"


def _names() -> list[tuple[str, str]]:
    return [(f"{table}_no_delete", table) for table in [*CHILDREN, VERSIONS]]


def _locked_sql(version_id: str) -> str:
    """True when the version is locked and its plan is not being erased."""
    query = "SELECT 1 FROM plans_planversion v JOIN plans_plan p ON p.id = v.plan_id WHERE v.id = "
    return f"EXISTS ({query}{version_id} AND v.status <> 'draft' AND NOT p.erasing)"


def _sqlite_install() -> list[str]:
    statements = [
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}
FOR EACH ROW WHEN {_locked_sql("OLD." + column)}
BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""
        for table, column in CHILDREN.items()
    ]
    statements.append(
        f"""CREATE TRIGGER IF NOT EXISTS {VERSIONS}_no_delete BEFORE DELETE ON {VERSIONS}
FOR EACH ROW WHEN {_locked_sql("OLD.id")}
BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""
    )
    return statements


def _postgres_install() -> list[str]:
    statements = [
        f"""CREATE OR REPLACE FUNCTION plans_refuse_delete() RETURNS trigger AS $$
DECLARE
  version_id bigint;
BEGIN
  IF TG_TABLE_NAME = '{VERSIONS}' THEN
    version_id := OLD.id;
  ELSE
    version_id := OLD.version_id;
  END IF;
  IF {_locked_sql("version_id")} THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN OLD;
END;
$$ LANGUAGE plpgsql"""
    ]
    for name, table in _names():
        statements += [
            f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"CREATE TRIGGER {name} BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION plans_refuse_delete()",
        ]
    return statements


def _statements(connection: BaseDatabaseWrapper, install: bool) -> list[str]:
    if connection.vendor == "postgresql":
        if install:
            return _postgres_install()
        return [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table in _names()]
    if connection.vendor == "sqlite":
        if install:
            return _sqlite_install()
        return [f"DROP TRIGGER IF EXISTS {name}" for name, _ in _names()]
    raise RuntimeError(f"No plan triggers for the {connection.vendor} database")


def install(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection, install=True):
            cursor.execute(sql)


def remove(connection: BaseDatabaseWrapper) -> None:
    """Drop the delete guards. Used only by test teardown and deliberate maintenance."""
    with connection.cursor() as cursor:
        for sql in _statements(connection, install=False):
            cursor.execute(sql)
