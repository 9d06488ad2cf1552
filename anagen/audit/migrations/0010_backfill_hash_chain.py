"""Seal the rows written before the hash chain: number, link and hash them in id order."""

from django.db import migrations


def backfill(apps, schema_editor):
    from anagen.audit.chain import reseal_all

    reseal_all(apps.get_model("audit", "AuditEvent"), apps.get_model("audit", "AuditChainHead"))


class Migration(migrations.Migration):
    dependencies = [("audit", "0009_hash_chain")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
