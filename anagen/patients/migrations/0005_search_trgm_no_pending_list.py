# Issue 15: the trigram index of the search name answers without a pending list. With GIN's
# fast update every search also read the whole list of entries not yet merged into the index
# (thousands after a bulk load; about 1 ms on every name search, even one finding nothing).
# Patients are registered rarely: each insert now updates the index itself. The entries still
# pending are merged now. PostgreSQL only (SQLite has no trigram index).

from django.db import migrations

INDEX = "patients_patient_search_name_trgm"


def no_pending_list(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER INDEX IF EXISTS {INDEX} SET (fastupdate = off)")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [INDEX])
        if cursor.fetchone()[0] is not None:
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [INDEX])


def pending_list(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER INDEX IF EXISTS {INDEX} RESET (fastupdate)")


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0004_search_indexes_postgresql"),
    ]

    operations = [migrations.RunPython(no_pending_list, pending_list)]
