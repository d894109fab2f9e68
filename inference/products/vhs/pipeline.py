"""One image through the VHS models, on the worker: find the screen, classify, measure, render.

An item names its ``operation``:

* ``measure`` (the default; predict, stream, PoP sessions): when the picture-of-picture
  (PoP) models are loaded, the photo is first checked for a screen; a PoP photo is rectified
  (code 7 when its screen cannot be found) and the rectified image is what is measured.  The
  radiograph classifier runs next; only an image it accepts goes through the landmark
  ensemble (a rejected photo costs one small forward pass).  The analysis (ensemble mean,
  spread, VHS/VLAS, result code) is pure Python from ``analysis``; rendering from ``render``.
* ``corners``, ``rectify``, ``preprocess``: the seed's PoP utility endpoints.

The evaluation commands measure through these same functions.
"""

from __future__ import annotations

import base64
import dataclasses
import io
from typing import Any

from PIL import Image

from inference.products.vhs.analysis import FrameResult, analyse_outputs, rejection
from inference.products.vhs.render import render
from inference.runtime.errors import InferenceError

#: The PoP model group; without it, photos are measured as they come.
POP_GROUP = "pop"
#: Rectified images travel back as JPEG (the seed's ``rectified_image``), at this quality.
RECTIFIED_JPEG_QUALITY = 92


class PopUnavailable(InferenceError):
    """A PoP operation was asked of a worker that has no PoP models loaded."""

    code = "POP_UNAVAILABLE"
    status = 503


class CornersNotFound(InferenceError):
    """No screen was found in the photo (the seed's 422 ``Corner detection failed``)."""

    code = "CORNERS_NOT_FOUND"
    status = 422


def _pop(models: Any) -> Any:
    """The PoP module, when its models are loaded (imported lazily: OpenCV-heavy)."""
    if not models.available(POP_GROUP):
        return None
    from inference.products.vhs.pop import screen

    return screen


def jpeg_base64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=RECTIFIED_JPEG_QUALITY)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def measure_frame(models: Any, item: dict[str, Any], deadline: float | None) -> FrameResult:
    """The analysed result of ``item["image"]`` (models: a ``ProductRuntime``)."""
    return examine(models, item, deadline)[0]


def examine(
    models: Any, item: dict[str, Any], deadline: float | None
) -> tuple[FrameResult, Image.Image]:
    """The analysed result of ``item["image"]``, and the image it was measured on (the
    rectified screen of a PoP photo, else the image itself)."""
    image = item["image"]
    pop = _pop(models)
    found: dict[str, Any] = {}
    if pop is not None:
        finding = pop.find_screen(models, image, deadline)
        if finding.pop_detected:
            found = {"pop_detected": True, "quality": finding.quality}
            if finding.corners is None:
                return FrameResult(result_code=7, classifier_confidence=0.0, **found), image
            image = pop.rectify(image, finding.corners)
            item = {**item, "image": image}
    probability = models.predict("radiograph", item, deadline)["probability"]
    frame = rejection(probability)
    if frame is None:
        rows = models.predict("landmarks", item, deadline)["member_rows"]
        frame = analyse_outputs(probability, rows, *image.size)
    return dataclasses.replace(frame, width=image.width, height=image.height, **found), image


def measure(models: Any, item: dict[str, Any], deadline: float | None) -> dict[str, Any]:
    """The worker's answer for one VHS item (see the module docstring for operations)."""
    operation = item.get("operation", "measure")
    if operation != "measure":
        return _utility(models, operation, item, deadline)
    frame, measured_on = examine(models, item, deadline)
    result: dict[str, Any] = {"frame": dataclasses.asdict(frame)}
    if item.get("render") and not frame.rejected and frame.result_code != 7:
        image_format = "JPEG" if frame.pop_detected else item.get("format", "PNG")
        result["rendered_image"] = render(measured_on, frame, image_format)
    if item.get("rectified") and frame.pop_detected and frame.result_code != 7:
        result["rectified_image"] = jpeg_base64(measured_on)
    return result


def _utility(
    models: Any, operation: str, item: dict[str, Any], deadline: float | None
) -> dict[str, Any]:
    """``corners``, ``rectify`` and ``preprocess`` (seed 002), on a decoded photo."""
    pop = _pop(models)
    if pop is None:
        raise PopUnavailable("PoP pipeline not available")
    image = item["image"]
    if operation == "rectify":
        corners = item["corners"]
    else:
        corners = pop.find_screen(models, image, deadline, require_screen=False).corners
        if corners is None:
            raise CornersNotFound("Corner detection failed")
    answer: dict[str, Any] = {
        "corners": [[round(x, 2), round(y, 2)] for x, y in corners],
        "image_width": image.width,
        "image_height": image.height,
    }
    if operation in ("rectify", "preprocess"):
        rectified = pop.rectify(image, corners)
        answer.update(
            rectified_image=jpeg_base64(rectified), width=rectified.width, height=rectified.height
        )
    return answer
