# Issue 15: patient search answered from indexes on PostgreSQL. Names by trigram (pg_trgm GIN on
# the folded search name: `LIKE '%word%'`), phones by the reversed digits (a typed suffix is a
# prefix of the reversed number: `reverse(phone_digits) LIKE '…%'`). SQLite keeps its plain
# indexes: nothing to do there.

from django.db import migrations

INDEXES = [
    (
        "patients_patient_search_name_trgm",
        "CREATE INDEX IF NOT EXISTS patients_patient_search_name_trgm ON patients_patient "
        "USING gin (search_name gin_trgm_ops)",
    ),
    (
        "patients_patient_phone_reversed",
        "CREATE INDEX IF NOT EXISTS patients_patient_phone_reversed ON patients_patient "
        "((reverse(phone_digits)) text_pattern_ops)",
    ),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for _, sql in INDEXES:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0003_intake_prior_procedures_explicit_prescribed"),
    ]

    operations = [migrations.RunPython(create, drop)]
