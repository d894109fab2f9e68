"""The printable report of one stored measurement, in the web tier (no worker, never billed).

``measurement_report`` reads the customer's measurement, its standing correction and the
patient's history up to it, draws the annotated radiograph with ``render.render`` (the
corrected landmarks when a reader corrected them, else the AI's) and gives the PDF's bytes
(``report.render_report``).  Pixels are never stored, so the radiograph comes with the call:
the image that was measured (its size must be the stored one), resampled to at most
``RENDER_MAX_SIDE`` pixels first.  Without it the landmarks and axes are drawn on a blank
frame of the image's shape.
"""

from __future__ import annotations

import base64
import datetime
import io

from django.utils import timezone
from PIL import Image

from accounts.models import Customer
from inference.api.images import CheckedImage
from inference.products.vhs import corrections
from inference.products.vhs.analysis import RESULT_DESCRIPTIONS, FrameResult, confidence_of
from inference.products.vhs.models import Measurement
from inference.products.vhs.render import render
from inference.products.vhs.report import (
    HistoryPoint,
    StaffCorrection,
    VhsReportInput,
    render_report,
)
from inference.runtime.product import DISCLAIMER

#: The longer side the radiograph is drawn at (the report embeds at most 960 px).
RENDER_MAX_SIDE = 1600
BLANK_SIDE = 960
#: A stored measurement's confidence when it has no spread (rows from before it was kept).
CONFIDENCE_OF_CODE = {1: "optimal", 2: "good", 3: "review", 4: "review"}


class WrongImage(ValueError):
    """The image sent is not the size of the image that was measured."""


def _confidence(measurement: Measurement) -> str:
    if measurement.spread is not None:
        return confidence_of(measurement.spread)
    return CONFIDENCE_OF_CODE.get(measurement.result_code, "review")


def _picture(measurement: Measurement, image: CheckedImage | None) -> Image.Image:
    width, height = measurement.image_width or 0, measurement.image_height or 0
    if image is None:
        if not (width and height):
            width = height = BLANK_SIDE
        scale = BLANK_SIDE / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return Image.new("RGB", size, (12, 15, 20))
    if width and height and (image.width, image.height) != (width, height):
        raise WrongImage(
            f"image is {image.width}x{image.height}, but measurement {measurement.pk} was "
            f"measured on a {width}x{height} image: send the image that was measured"
        )
    picture = Image.open(io.BytesIO(image.data or b""))
    picture.draft("RGB", (RENDER_MAX_SIDE, RENDER_MAX_SIDE))  # JPEG: decode smaller
    picture = picture.convert("RGB")
    picture.thumbnail((RENDER_MAX_SIDE, RENDER_MAX_SIDE), Image.Resampling.LANCZOS)
    return picture


def _history(customer: Customer, measurement: Measurement) -> list[HistoryPoint]:
    rows = corrections.patient_measurements(customer, measurement.patient.uuid).filter(
        measured_at__lte=measurement.measured_at
    )
    points = []
    for row in rows:
        latest = row.latest_correction
        points.append(
            HistoryPoint(
                measured_at=row.measured_at,
                vhs=row.vhs,
                vlas=row.vlas,
                corrected_vhs=latest.vhs if latest else None,
                corrected_vlas=latest.vlas if latest else None,
            )
        )
    return points


def measurement_report(
    *,
    customer: Customer,
    measurement_id: int,
    image: CheckedImage | None,
    clinic: str = "",
    generated_at: datetime.datetime | None = None,
) -> bytes:
    """The PDF of the customer's measurement (``corrections.MeasurementNotFound`` when it is
    not theirs, ``WrongImage`` when ``image`` is not the measured one)."""
    measurement = corrections.measurement_of(customer, measurement_id)
    latest = measurement.latest_correction
    drawn = corrections.as_points(latest.landmarks) if latest else None
    if drawn is None:
        drawn = corrections.stored_points(measurement)
    picture = _picture(measurement, image)
    vhs = latest.vhs if latest else measurement.vhs
    vlas = latest.vlas if latest else measurement.vlas
    if drawn is not None:
        frame = FrameResult(
            result_code=measurement.result_code,
            classifier_confidence=1.0,
            landmarks=drawn,
            spread=measurement.spread,
            vhs=vhs,
            vlas=vlas,
        )
        rendered = base64.b64decode(render(picture, frame, "PNG"))
    else:  # stored before landmarks were kept: the picture as it is
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        rendered = buffer.getvalue()
    if image is None:
        note = "Radiograph not supplied: the landmarks and axes on a blank frame of its shape."
    elif latest is not None:
        note = "The radiograph with the landmarks as corrected by staff."
    else:
        note = "The radiograph with the AI's landmarks, axes and vertebral scale."
    return render_report(
        VhsReportInput(
            clinic=clinic or customer.name,
            uuid=measurement.patient.uuid,
            measurement_id=measurement.pk,
            measured_at=measurement.measured_at,
            vhs=measurement.vhs,
            vlas=measurement.vlas,
            confidence=_confidence(measurement),
            result_description=RESULT_DESCRIPTIONS.get(measurement.result_code, ""),
            model_version=measurement.model_version,
            rendered_png=rendered,
            image_note=note,
            generated_at=generated_at or timezone.now(),
            disclaimer=DISCLAIMER,
            correction=(
                StaffCorrection(latest.vhs, latest.vlas, latest.corrected_at, latest.corrected_by)
                if latest
                else None
            ),
            history=_history(customer, measurement),
        )
    )
