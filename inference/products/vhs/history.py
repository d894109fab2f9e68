"""Patient history: stored per customer, read back as ``[[date, value], ...]``."""

from __future__ import annotations

from accounts.models import Customer
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.models import Measurement, Patient

History = list[list]


def previous_measurements(customer: Customer, uuid: str) -> tuple[History, History]:
    """(historic_vhs, historic_vlas) of the customer's patient ``uuid``, oldest first."""
    rows = Measurement.objects.filter(patient__customer=customer, patient__uuid=uuid).values_list(
        "measured_at", "vhs", "vlas"
    )
    vhs = [[at.date().isoformat(), value] for at, value, _ in rows]
    vlas = [[at.date().isoformat(), value] for at, _, value in rows if value is not None]
    return vhs, vlas


def record_measurement(
    customer: Customer,
    uuid: str,
    vhs: float,
    vlas: float | None,
    result_code: int,
    model_version: str,
    request_id: str = "",
    landmarks: dict[str, tuple[float, float]] | None = None,
    image_size: tuple[int, int] | None = None,
    spread: float | None = None,
) -> Measurement:
    """Store one measurement; with ``landmarks`` and the ``image_size`` (width, height) they
    were placed on, it can later be corrected (``corrections``)."""
    patient, _ = Patient.objects.get_or_create(customer=customer, uuid=uuid)
    width, height = image_size if image_size is not None else (None, None)
    return Measurement.objects.create(
        patient=patient,
        vhs=vhs,
        vlas=vlas,
        result_code=result_code,
        model_version=model_version,
        request_id=request_id,
        landmarks=[list(landmarks[name]) for name in LANDMARKS] if landmarks else None,
        image_width=width,
        image_height=height,
        spread=spread,
    )
