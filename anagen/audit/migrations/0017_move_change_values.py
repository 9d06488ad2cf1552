"""Move every event's values to AuditChangeValues and seal the format-1 events of each chain.

No audit row is changed (PostgreSQL's trigger would refuse it, and the hashes must stay):
values are copied as they are (a format-1 hash covers them, so kept values still verify), and
each chain head records the seal over its format-1 events (anagen/audit/chain.py), which keeps
an event whose values an erasure purge later removes verifiable.
"""

from django.db import migrations


def move_values(apps, schema_editor):
    from anagen.audit.chain import seal_legacy

    event_model = apps.get_model("audit", "AuditEvent")
    values_model = apps.get_model("audit", "AuditChangeValues")
    batch = []
    rows = event_model.objects.order_by("id").values_list("id", "patient_id", "changes")
    for event_id, patient_id, changes in rows.iterator(chunk_size=2000):
        if not changes:
            continue  # a format-1 event without values verifies with {} (no row needed)
        batch.append(values_model(event_id=event_id, patient_id=patient_id, changes=changes))
        if len(batch) >= 1000:
            values_model.objects.bulk_create(batch)
            batch = []
    values_model.objects.bulk_create(batch)
    seal_legacy(event_model, apps.get_model("audit", "AuditChainHead"))


def restore_values(apps, schema_editor):
    # Backwards (the column is back, empty, after 0018 is reversed): the values return to the
    # events they belong to. Not possible on PostgreSQL while the append-only trigger holds.
    event_model = apps.get_model("audit", "AuditEvent")
    values_model = apps.get_model("audit", "AuditChangeValues")
    for row in values_model.objects.filter(event__chain_version=1).iterator():
        event_model.objects.filter(pk=row.event_id).update(changes=row.changes)
        row.delete()
    apps.get_model("audit", "AuditChainHead").objects.update(legacy_length=0, legacy_seal="")


class Migration(migrations.Migration):
    dependencies = [("audit", "0016_audit_change_values")]

    operations = [migrations.RunPython(move_values, restore_values)]
