"""Drop the lone index on `AuditEvent.patient` (issue 15).

The (patient, at, id) index answers every lookup by patient; with the lone one beside it
PostgreSQL read all of a patient's events and sorted them to show one page of the audit page
(85 ms for a patient with 12,800 events, against 0.1 ms by the composite index). On PostgreSQL
the index is dropped CONCURRENTLY (no lock on the 5M-row table), hence a non-atomic migration.
"""

from typing import Any

from django.db import migrations, models


def _lone_patient_indexes(schema_editor: Any) -> list[str]:
    connection = schema_editor.connection
    table = "audit_auditevent"
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return sorted(
        name
        for name, info in constraints.items()
        if info.get("index")
        and not info.get("primary_key")
        and not info.get("unique")
        and info.get("columns") == ["patient_id"]
    )


def drop_lone_index(apps: Any, schema_editor: Any) -> None:
    concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
    for name in _lone_patient_indexes(schema_editor):
        schema_editor.execute(
            f"DROP INDEX{concurrently} IF EXISTS {schema_editor.quote_name(name)}"
        )


def create_lone_index(apps: Any, schema_editor: Any) -> None:
    concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
    if not _lone_patient_indexes(schema_editor):
        schema_editor.execute(
            f"CREATE INDEX{concurrently} IF NOT EXISTS "
            '"audit_auditevent_patient_id_82c45eaf" ON "audit_auditevent" ("patient_id")'
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0020_action_without_choices"),
        ("patients", "0004_search_indexes_postgresql"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="patient",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_lone_index, create_lone_index, elidable=False),
            ],
        ),
    ]
