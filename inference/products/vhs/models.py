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
    #: The AI's seven landmarks (``[[x, y], ...]`` normalised, in ``geometry.LANDMARKS``
    #: order: a JSON list, as jsonb keeps no key order) and the size in pixels of
    #: the image they were placed on: what a correction is measured against (never pixels).
    #: Empty on measurements stored before corrections existed, which cannot be corrected.
    landmarks = models.JSONField(null=True, blank=True)
    image_width = models.PositiveIntegerField(null=True, blank=True)
    image_height = models.PositiveIntegerField(null=True, blank=True)
    #: The ensemble's spread (``analysis``): the measurement's confidence, for the report.
    spread = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "inference_measurement"
        ordering = ["measured_at"]

    def __str__(self) -> str:
        return f"{self.patient.uuid} {self.measured_at:%Y-%m-%d} VHS {self.vhs}"

    @property
    def latest_correction(self) -> Correction | None:
        """The correction that stands (the newest), or None; uses prefetched rows if any."""
        corrections = list(self.corrections.all())
        return max(corrections, key=lambda c: (c.corrected_at, c.pk)) if corrections else None


class Correction(models.Model):
    """A reader's correction of a measurement's landmarks (beyond the seed).

    VHS and VLAS are measured again from the corrected landmarks with the same geometry
    (``geometry.measure``) on the stored image size.  The AI's values stay on the
    ``Measurement``; a later correction of the same measurement is another row, the newest
    one standing.
    """

    measurement = models.ForeignKey(
        Measurement, on_delete=models.CASCADE, related_name="corrections"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    #: Who moved the points, as the client names them (a vet's name, a staff login).
    corrected_by = models.CharField(max_length=128, blank=True)
    corrected_at = models.DateTimeField(default=timezone.now, db_index=True)
    #: The corrected landmarks, ``[[x, y], ...]`` in ``geometry.LANDMARKS`` order.
    landmarks = models.JSONField()
    vhs = models.FloatField()
    vlas = models.FloatField()
    axes_perpendicular = models.BooleanField()

    class Meta:
        ordering = ["corrected_at", "pk"]

    def __str__(self) -> str:
        return f"correction of {self.measurement}: VHS {self.vhs}"

    @property
    def delta_vhs(self) -> float:
        return round(self.vhs - self.measurement.vhs, 1)

    @property
    def delta_vlas(self) -> float | None:
        if self.measurement.vlas is None:
            return None
        return round(self.vlas - self.measurement.vlas, 1)


class PopSession(models.Model):
    """A picture-of-picture capture session (seed 002 ``/v3/pop-session``): what its frames
    have shown so far, so that any web process can take the next frame.

    Only results are kept as data (``good_results``: the good frames' measurements, no
    pixels).  The chosen frame's rectified and rendered images, which the completing answer
    returns, are kept in ``best_rectified``/``best_rendered`` only while the session runs:
    they are emptied when it ends and when an abandoned session is found expired.

    ``lease_token``/``lease_until`` serialise frames: a frame takes the lease in a short
    transaction, is measured outside any transaction, and is applied (and the lease given
    back) in another; a second frame of the session waits for the lease meanwhile
    (``inference.products.vhs.session_service``).
    """

    class Status(models.TextChoices):
        READY = "ready", "ready (no frame yet)"
        CONTINUE = "continue", "capturing"
        COMPLETE = "complete", "complete"
        FAILED = "failed", "failed"

    session_id = models.CharField(max_length=32, unique=True)
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.CASCADE, related_name="pop_sessions"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY)
    #: Why a failed session failed: max_frames_exceeded, session_timeout,
    #: max_consecutive_failures.
    error = models.CharField(max_length=32, blank=True)
    #: The patient, fixed by the session's first frame ("" when it named none).
    uuid = models.CharField(max_length=128, blank=True)
    uuid_fixed = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    frames_processed = models.PositiveIntegerField(default=0)
    good_frames = models.PositiveIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    #: Each counted frame's result code, in order (null: a frame that could not be read).
    frame_codes = models.JSONField(default=list, blank=True)
    #: The good frames' results (``FrameResult`` fields and ``frame_index``), no pixels.
    good_results = models.JSONField(default=list, blank=True)
    best_frame_index = models.PositiveIntegerField(null=True, blank=True)
    model_version = models.CharField(max_length=64, blank=True)
    best_rectified = models.BinaryField(null=True, blank=True)
    best_rendered = models.BinaryField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "PoP capture session"

    def __str__(self) -> str:
        return f"{self.session_id} ({self.status})"


class PopSessionTicket(models.Model):
    """A single-use ticket for opening a session's WebSocket from a browser, which cannot
    send ``x-api-key`` on the handshake.  Only its SHA-256 is stored, like an API key's; it
    lives 60 s and is spent by the first connection that shows it."""

    session = models.ForeignKey(PopSession, on_delete=models.CASCADE, related_name="tickets")
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    ticket_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"ticket for {self.session.session_id}"
