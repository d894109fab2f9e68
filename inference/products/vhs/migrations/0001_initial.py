"""Patient and Measurement, moved here from the ``inference`` app without touching the tables.

The tables were created by ``inference.0001_initial`` and keep their names (``db_table``);
this migration only tells Django's migration state that the models now belong to ``vhs``.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0002_customer_custom_session_rate_and_more"),
        ("inference", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Patient",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("uuid", models.CharField(max_length=128)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="patients",
                                to="accounts.customer",
                            ),
                        ),
                    ],
                    options={"db_table": "inference_patient"},
                ),
                migrations.CreateModel(
                    name="Measurement",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "measured_at",
                            models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                        ),
                        ("vhs", models.FloatField()),
                        ("vlas", models.FloatField(blank=True, null=True)),
                        ("result_code", models.SmallIntegerField()),
                        ("model_version", models.CharField(max_length=64)),
                        ("request_id", models.CharField(blank=True, max_length=128)),
                        (
                            "patient",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="measurements",
                                to="vhs.patient",
                            ),
                        ),
                    ],
                    options={"db_table": "inference_measurement", "ordering": ["measured_at"]},
                ),
                migrations.AddConstraint(
                    model_name="patient",
                    constraint=models.UniqueConstraint(
                        fields=("customer", "uuid"), name="patient_uuid_per_customer"
                    ),
                ),
            ],
        )
    ]
