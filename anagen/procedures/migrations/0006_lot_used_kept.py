# Issue 15: a lot's stock level is kept as a column (updated by the lot-use service), not summed
# over every lot use per request. Existing lots get their level from their uses.

from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce


def fill_used(apps, schema_editor):
    Lot = apps.get_model("procedures", "Lot")
    LotUse = apps.get_model("procedures", "LotUse")
    total = (
        LotUse.objects.filter(lot=OuterRef("pk"))
        .order_by()
        .values("lot")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    Lot.objects.update(used=Coalesce(Subquery(total), Value(0)))


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0005_meso_allergy_override"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicallot",
            name="used",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="lot",
            name="used",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(fill_used, migrations.RunPython.noop),
    ]
