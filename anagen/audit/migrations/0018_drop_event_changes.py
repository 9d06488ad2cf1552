"""The values now live in AuditChangeValues only. On PostgreSQL that table accepts INSERT and
DELETE (an erasure purge) but refuses UPDATE, like the events' own trigger (migration 0011)."""

from django.db import migrations

CREATE = [
    """
CREATE OR REPLACE FUNCTION audit_values_no_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit values cannot be changed (only erased): % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
""",
    "DROP TRIGGER IF EXISTS audit_values_no_update ON audit_auditchangevalues",
    """
CREATE TRIGGER audit_values_no_update
    BEFORE UPDATE ON audit_auditchangevalues
    FOR EACH ROW EXECUTE FUNCTION audit_values_no_update()
""",
]

DROP = [
    "DROP TRIGGER IF EXISTS audit_values_no_update ON audit_auditchangevalues",
    "DROP FUNCTION IF EXISTS audit_values_no_update()",
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
    dependencies = [("audit", "0017_move_change_values")]

    operations = [
        migrations.RemoveField(model_name="auditevent", name="changes"),
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP)),
    ]
