from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _ensure_triggers(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """Put the delete guards on signed plan versions back after any migrate
    or flush (a test database flush lifts them to empty the tables)."""
    from tandem.plans import triggers

    connection = connections[using]
    if triggers.VERSIONS in connection.introspection.table_names():
        triggers.install(connection)


class PlansConfig(AppConfig):
    name = "tandem.plans"
    label = "plans"
    verbose_name = "Diagnoses and treatment plans"

    def ready(self) -> None:
        post_migrate.connect(_ensure_triggers, sender=self, dispatch_uid="tandem.plans.triggers")
