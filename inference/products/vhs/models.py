"""Patients and their measurement history, per customer (seed 002: uuid, historic_vhs/vlas).

A ``uuid`` names a patient *of the calling customer*: two customers using the same uuid have
two different patients, and neither can read or change the other's history.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Patient(models.Model):
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.CASCADE, related_name="patients"
    )
    uuid = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table kept its name when the model moved from the inference app.
        db_table = "inference_patient"
        constraints = [
            models.UniqueConstraint(fields=["customer", "uuid"], name="patient_uuid_per_customer")
        ]

    def __str__(self) -> str:
        return f"{self.uuid} ({self.customer})"


class Measurement(models.Model):
    """One successful measurement (result codes 1-4) of a patient."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="measurements")
    measured_at = models.DateTimeField(default=timezone.now, db_index=True)
    vhs = models.FloatField()
    vlas = models.FloatField(null=True, blank=True)
    result_code = models.SmallIntegerField()
    model_version = models.CharField(max_length=64)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        db_table = "inference_measurement"
        ordering = ["measured_at"]

    def __str__(self) -> str:
        return f"{self.patient.uuid} {self.measured_at:%Y-%m-%d} VHS {self.vhs}"
