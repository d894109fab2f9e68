"""Landmark corrections (beyond the seed): a reader moves the AI's points, the server measures
again with the same geometry, and both results are kept.

* ``correction_create`` (service): the customer's measurement, the seven corrected landmarks
  -> a ``Correction`` with VHS and VLAS from ``geometry.measure`` on the image size stored
  with the measurement.  The measurement's AI values are never changed.
* ``patient_measurements`` (selector): a customer's patient's measurements, oldest first,
  each with its corrections, for the API and the report.
* ``correction_summary`` (selector): how often and by how much the AI was corrected, for
  admin.

Every lookup goes through the customer: another customer's measurement does not exist here.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from accounts.models import ApiKey, Customer
from inference.products.vhs.analysis import PLAUSIBLE_VHS, prediction_list
from inference.products.vhs.geometry import LANDMARKS, measure
from inference.products.vhs.models import Correction, Measurement

Points = dict[str, tuple[float, float]]


class MeasurementNotFound(LookupError):
    """No such measurement among the customer's."""


class NotCorrectable(ValueError):
    """The measurement was stored without the landmarks and image size a correction needs."""


class ImpossibleGeometry(ValueError):
    """The corrected landmarks give no usable measurement (the message says why)."""


def measurement_of(customer: Customer, measurement_id: int) -> Measurement:
    """The customer's measurement ``measurement_id``, with its patient and corrections."""
    found = (
        Measurement.objects.select_related("patient")
        .prefetch_related("corrections")
        .filter(pk=measurement_id, patient__customer=customer)
        .first()
    )
    if found is None:
        raise MeasurementNotFound(f"Measurement {measurement_id} not found")
    return found


def stored_points(measurement: Measurement) -> Points | None:
    """The AI's landmarks of ``measurement`` as ``{name: (x, y)}``, or None."""
    return as_points(measurement.landmarks) if measurement.landmarks else None


def as_points(stored: list[list[float]]) -> Points:
    """Stored ``[[x, y], ...]`` (``LANDMARKS`` order) -> ``{name: (x, y)}``."""
    return {name: (float(x), float(y)) for name, (x, y) in zip(LANDMARKS, stored, strict=True)}


def correction_create(
    *,
    customer: Customer,
    api_key: ApiKey | None,
    measurement_id: int,
    landmarks: Points,
    corrected_by: str = "",
) -> Correction:
    """Measure ``landmarks`` (all seven, normalised) on the measurement's image and store it.

    Raises ``MeasurementNotFound``, ``NotCorrectable`` or ``ImpossibleGeometry``.
    """
    with transaction.atomic():
        measurement = measurement_of(customer, measurement_id)
        if not measurement.image_width or not measurement.image_height:
            raise NotCorrectable(
                "This measurement was stored without its landmarks and image size; "
                "it cannot be corrected"
            )
        try:
            result = measure(landmarks, measurement.image_width, measurement.image_height)
        except ValueError as error:
            raise ImpossibleGeometry(str(error)) from error
        low, high = PLAUSIBLE_VHS
        if not low <= result.vhs <= high:
            raise ImpossibleGeometry(
                f"The corrected landmarks give VHS {result.vhs}, outside {low:g}-{high:g}: "
                "check the vertebrae"
            )
        return Correction.objects.create(
            measurement=measurement,
            api_key=api_key,
            corrected_by=corrected_by,
            landmarks=[list(landmarks[name]) for name in LANDMARKS],
            vhs=result.vhs,
            vlas=result.vlas,
            axes_perpendicular=result.axes_perpendicular,
        )


def patient_measurements(customer: Customer, uuid: str) -> QuerySet[Measurement]:
    """The customer's patient ``uuid``'s measurements, oldest first (none for another's)."""
    return (
        Measurement.objects.filter(patient__customer=customer, patient__uuid=uuid)
        .select_related("patient")
        .prefetch_related("corrections")
        .order_by("measured_at", "pk")
    )


# --- documents (the API's shapes; see corrections_serializers) ---------------------------------


def correction_document(correction: Correction) -> dict[str, Any]:
    points = as_points(correction.landmarks)
    return {
        "correction_id": correction.pk,
        "corrected_at": correction.corrected_at.isoformat(),
        "corrected_by": correction.corrected_by,
        "vhs": correction.vhs,
        "vlas": correction.vlas,
        "delta_vhs": correction.delta_vhs,
        "delta_vlas": correction.delta_vlas,
        "axes_perpendicular": correction.axes_perpendicular,
        "prediction": prediction_list(points),
    }


def measurement_document(measurement: Measurement) -> dict[str, Any]:
    """A measurement with the AI's values and the standing correction (absent when none)."""
    points = stored_points(measurement)
    latest = measurement.latest_correction
    document = {
        "measurement_id": measurement.pk,
        "uuid": measurement.patient.uuid,
        "measured_at": measurement.measured_at.isoformat(),
        "vhs": measurement.vhs,
        "vlas": measurement.vlas,
        "result_code": measurement.result_code,
        "model_version": measurement.model_version,
        "prediction": prediction_list(points) if points else None,
        "image_width": measurement.image_width,
        "image_height": measurement.image_height,
        "corrections_count": len(measurement.corrections.all()),
    }
    if latest is not None:
        document["correction"] = correction_document(latest)
    return document


# --- how often and by how much the AI was corrected (admin) -----------------------------------


@dataclass(frozen=True)
class CorrectionSummary:
    measurements: int
    corrected: int
    mean_abs_delta_vhs: float | None
    mean_abs_delta_vlas: float | None

    @property
    def share_corrected(self) -> float | None:
        return self.corrected / self.measurements if self.measurements else None


def correction_summary(measurements: QuerySet[Measurement]) -> CorrectionSummary:
    """Over ``measurements``: how many were corrected, and the mean |Δ| of the standing
    corrections (VLAS only where the AI measured one)."""
    rows = measurements.prefetch_related("corrections")
    total = 0
    deltas_vhs: list[float] = []
    deltas_vlas: list[float] = []
    for measurement in rows.iterator(chunk_size=2000):
        total += 1
        latest = measurement.latest_correction
        if latest is None:
            continue
        deltas_vhs.append(abs(latest.vhs - measurement.vhs))
        if measurement.vlas is not None:
            deltas_vlas.append(abs(latest.vlas - measurement.vlas))
    return CorrectionSummary(
        measurements=total,
        corrected=len(deltas_vhs),
        mean_abs_delta_vhs=round(statistics.fmean(deltas_vhs), 2) if deltas_vhs else None,
        mean_abs_delta_vlas=round(statistics.fmean(deltas_vlas), 2) if deltas_vlas else None,
    )
