"""One patient cannot be in two overlapping appointments, enforced by PostgreSQL itself.

Issue 13: one patient could be booked twice at the same instant with different rooms and
practitioners (the resource constraint of 0002 only covers practitioners, rooms and centrifuges).
An exclusion constraint (GiST with ``btree_gist`` for the ``=`` on the patient id) now rejects two
appointments of the same patient whose ``[starts_at, ends_at)`` ranges overlap, unless one of them
is cancelled or a no-show (those free the slot, like their resource bookings). SQLite cannot
express this; there the booking services re-check inside their serialised transaction
(``anagen.serialised_writes``), so this migration is a no-op on any other database.

Existing rows that would break the constraint (possible only if an old race slipped through)
would make the migration fail loudly rather than silently cancel someone's appointment: the
operator resolves them first. The demo data holds none.
"""

from django.db import migrations

CONSTRAINT = "scheduling_patient_no_overlap"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE scheduling_appointment ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (patient_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
        "WHERE (status NOT IN ('cancelled', 'no_show'))"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS {CONSTRAINT}"
    )


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0004_integrity_checks")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
