"""The values an audit event changed move to their own table (deletable by an erasure purge);
events get a chain format (1 for those written so far) and the salted digest of their values.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0015_audit_keyset_indexes")]

    operations = [
        migrations.CreateModel(
            name="AuditChangeValues",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="change_values",
                        serialize=False,
                        to="audit.auditevent",
                    ),
                ),
                ("patient_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                ("salt", models.CharField(blank=True, max_length=32)),
                ("changes", models.JSONField(blank=True, default=dict)),
            ],
        ),
        migrations.AddField(
            model_name="auditevent",
            name="changes_digest",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        # Every event written so far is format 1; new ones are format 2 (the model's default).
        migrations.AddField(
            model_name="auditevent",
            name="chain_version",
            field=models.PositiveSmallIntegerField(default=1, editable=False),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="chain_version",
            field=models.PositiveSmallIntegerField(default=2, editable=False),
        ),
        migrations.AddField(
            model_name="auditchainhead",
            name="legacy_length",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="auditchainhead",
            name="legacy_seal",
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
