"""A locked plan version (signed by at least one clinician) cannot change,
whatever path the change takes: the ORM, a queryset update, raw SQL.

On the version row only the lifecycle may move on (awaiting signatures, in
force, superseded) with its times; its content stays as signed. Its goals and
interventions cannot be added or changed once it is locked. Both engines
report the refusal as an integrity error.
"""

from django.db import migrations

MESSAGE = "A signed plan version cannot be changed; revise the plan to make a new draft."
CONTENT = [
    "plan_id",
    "number",
    "organization_id",
    "created_by_id",
    "based_on_id",
    "summary",
    "diagnoses",
    "review_on",
    "change_note",
    "revision",
]
CHILDREN = ["plans_goal", "plans_intervention"]


def _sqlite() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in CONTENT)
    statements = [
        f"""CREATE TRIGGER plans_version_locked BEFORE UPDATE ON plans_planversion
FOR EACH ROW WHEN OLD.status <> 'draft' AND ({changed} OR NEW.status = 'draft')
BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""
    ]
    for table in CHILDREN:
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("UPDATE", "OLD")):
            statements.append(
                f"""CREATE TRIGGER {table}_locked_{event.lower()}_{row.lower()} BEFORE {event} ON {table}
FOR EACH ROW WHEN (SELECT status FROM plans_planversion WHERE id = {row}.version_id) <> 'draft'
BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""  # noqa: S608 (names fixed in this file, no input)
            )
    return statements


def _postgres() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in CONTENT)
    return [
        f"""CREATE FUNCTION plans_version_locked() RETURNS trigger AS $$
BEGIN
  IF OLD.status <> 'draft' AND ({changed} OR NEW.status = 'draft') THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql""",
        """CREATE TRIGGER plans_version_locked BEFORE UPDATE ON plans_planversion
FOR EACH ROW EXECUTE FUNCTION plans_version_locked()""",
        f"""CREATE FUNCTION plans_child_locked() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM plans_planversion WHERE id = NEW.version_id AND status <> 'draft')
     OR (TG_OP = 'UPDATE' AND EXISTS (
       SELECT 1 FROM plans_planversion WHERE id = OLD.version_id AND status <> 'draft')) THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql""",  # noqa: S608 (names fixed in this file, no input)
        *(
            f"""CREATE TRIGGER {table}_locked BEFORE INSERT OR UPDATE ON {table}
FOR EACH ROW EXECUTE FUNCTION plans_child_locked()"""
            for table in CHILDREN
        ),
    ]


def _lock(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = _sqlite()
    elif vendor == "postgresql":
        statements = _postgres()
    else:
        raise RuntimeError(f"No lock on signed plan versions for {vendor}.")
    for statement in statements:
        schema_editor.execute(statement)


def _unlock(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    names = [("plans_version_locked", "plans_planversion")]
    if postgres:
        names += [(f"{t}_locked", t) for t in CHILDREN]
    else:
        names += [
            (f"{t}_locked_{e}_{r}", t)
            for t in CHILDREN
            for e, r in (("insert", "new"), ("update", "new"), ("update", "old"))
        ]
    for name, table in names:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
    if postgres:
        schema_editor.execute("DROP FUNCTION IF EXISTS plans_version_locked()")
        schema_editor.execute("DROP FUNCTION IF EXISTS plans_child_locked()")


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial")]

    operations = [migrations.RunPython(_lock, _unlock)]
