"""Version 1 of every consent kind, shared by all clinics (clinic = NULL)."""

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    from anagen.care.consent_texts import DEFAULT_TEMPLATES

    ConsentTemplate = apps.get_model("care", "ConsentTemplate")
    now = timezone.now()
    for kind, (title, body) in DEFAULT_TEMPLATES.items():
        if not ConsentTemplate.objects.filter(clinic__isnull=True, kind=kind).exists():
            ConsentTemplate.objects.create(
                clinic=None, kind=kind, version=1, title=title, body=body, published_at=now
            )


class Migration(migrations.Migration):
    dependencies = [("care", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
