"""Drop single-column indexes whose column leads a composite index (issue 15, batch booking).

Each of these foreign-key columns already leads a composite index that serves the same lookups
(and the foreign-key checks of deletes): appointment (clinic|patient|practitioner|room,
starts_at), resource booking (resource, active, starts_at), plan (patient, status) and
(clinic, -created_at, -id). The single-column copies only cost every insert (~170,000 booking
rows for 10,000 series). Only the indexes go (``DROP INDEX``, instant); the foreign keys stay
as they are (Django's own ``AlterField`` would drop and re-validate them over the whole table).
"""

import django.db.models.deletion
from django.db import migrations, models

# (index, table, column): the single-column indexes Django made for these foreign keys.
INDEXES = [
    ("scheduling_appointment_clinic_id_c959ca14", "scheduling_appointment", "clinic_id"),
    ("scheduling_appointment_patient_id_1a2fb708", "scheduling_appointment", "patient_id"),
    (
        "scheduling_appointment_practitioner_id_092c1b4b",
        "scheduling_appointment",
        "practitioner_id",
    ),
    ("scheduling_appointment_room_id_79e598c5", "scheduling_appointment", "room_id"),
    (
        "scheduling_resourcebooking_resource_id_85d1d3c5",
        "scheduling_resourcebooking",
        "resource_id",
    ),
    ("scheduling_treatmentplan_clinic_id_5cf0ec4a", "scheduling_treatmentplan", "clinic_id"),
    ("scheduling_treatmentplan_patient_id_62aeeb0b", "scheduling_treatmentplan", "patient_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_password_reset_attempts_and_hashed_recovery_codes"),
        ("patients", "0004_search_indexes_postgresql"),
        ("scheduling", "0011_calendar_version"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="appointment",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="appointments",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="appointment",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="appointments",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="appointment",
                    name="practitioner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="practitioner_appointments",
                        to="scheduling.resource",
                    ),
                ),
                migrations.AlterField(
                    model_name="appointment",
                    name="room",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="room_appointments",
                        to="scheduling.resource",
                    ),
                ),
                migrations.AlterField(
                    model_name="resourcebooking",
                    name="resource",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="bookings",
                        to="scheduling.resource",
                    ),
                ),
                migrations.AlterField(
                    model_name="treatmentplan",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="treatmentplan",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="treatment_plans",
                        to="patients.patient",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")',
                )
                for name, table, column in INDEXES
            ],
        ),
    ]
