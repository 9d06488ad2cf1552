"""On PostgreSQL, audit rows cannot be changed or deleted: a trigger refuses UPDATE and DELETE.

TRUNCATE is deliberately not blocked: the test suite empties tables with TRUNCATE between
transactional tests. A truncated (or shortened) table is caught by `anagen audit verify`, as
the chain heads record each chain's length and last hash. In production also revoke the
privileges from the application's role (README, "Audit trail").
SQLite has no roles; there the chain alone makes tampering evident.
"""

from django.db import migrations

CREATE = [
    """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
""",
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent",
    """
CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
""",
]

DROP = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)  # no parameters: the % in RAISE stays as it is

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0010_backfill_hash_chain")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
