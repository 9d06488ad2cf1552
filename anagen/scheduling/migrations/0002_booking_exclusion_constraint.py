"""No double booking, enforced by PostgreSQL itself.

An exclusion constraint (GiST, needs ``btree_gist`` for the ``=`` on the resource id) rejects two
active bookings of the same resource whose ``[starts_at, ends_at)`` ranges overlap. SQLite cannot
express this; there the booking service serialises writers and re-checks inside the transaction,
so these operations are no-ops on any other database.
"""

from django.db import migrations

CONSTRAINT = "scheduling_booking_no_overlap"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE scheduling_resourcebooking ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (resource_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
        "WHERE (active)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE scheduling_resourcebooking DROP CONSTRAINT IF EXISTS {CONSTRAINT}"
    )


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
