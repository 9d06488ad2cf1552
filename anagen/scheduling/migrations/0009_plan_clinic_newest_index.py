"""The API's plan list, newest first, reads one page of an index instead of sorting the clinic's
plans (issue 15)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0008_reminder_log_recalls")]

    operations = [
        migrations.AddIndex(
            model_name="treatmentplan",
            index=models.Index(
                fields=["clinic", "-created_at", "-id"], name="plan_clinic_newest_idx"
            ),
        ),
    ]
