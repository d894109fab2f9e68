"""Chest X-ray studies analysed for a customer: the patient history of this product.

One row per analysed study, scoped to the customer whose user called: what was analysed
(patient id, SOP Instance UID, study date), what the model said (result, every finding with
its confidence, the model version) and where the outputs went.  Never pixels: the images
stay with the customer (on disk, or in the response they were given).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Study(models.Model):
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.CASCADE, related_name="cxr_studies"
    )
    patient_id = models.CharField(max_length=64, db_index=True)
    sop_instance_uid = models.CharField(max_length=64)
    study_instance_uid = models.CharField(max_length=64, blank=True)
    study_date = models.CharField(max_length=8, blank=True, help_text="DICOM date, YYYYMMDD.")
    result = models.CharField(max_length=32)
    findings = models.JSONField(help_text="Every finding: name, presence, confidence.")
    model_version = models.CharField(max_length=64)
    output_folder = models.CharField(
        max_length=500, blank=True, help_text="Where the files were written; empty: inline."
    )
    request_id = models.CharField(max_length=128, blank=True)
    analysed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-analysed_at"]
        verbose_name = "chest X-ray study"
        verbose_name_plural = "chest X-ray studies"
        indexes = [models.Index(fields=["customer", "patient_id", "analysed_at"])]

    def __str__(self) -> str:
        return f"{self.patient_id} {self.analysed_at:%Y-%m-%d} {self.result}"

    @property
    def present_findings(self) -> list[str]:
        return [f["name"] for f in self.findings if f.get("presence")]
