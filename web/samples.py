"""Generated samples for the pages' "generate a sample" buttons: phantoms with known truth.

Each returns a JSON-safe dict with the file as base64 (the same bytes a customer would upload)
and the part of the ground truth a page shows.  Drawing takes up to a second of CPU, so views
run these in a worker thread (``sync_to_async(thread_sensitive=False)``).
"""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from inference.phantoms import cxr, leukemia, pop

MAX_SEED = 1_000_000


class BadSampleRequest(ValueError):
    """A parameter the generator cannot draw; its message is shown on the page."""


def _encode(image: Image.Image, fmt: str, **options: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def seed_param(value: str | None) -> int:
    try:
        seed = int(value) if value not in (None, "") else 0
    except ValueError as exc:
        raise BadSampleRequest("seed must be a whole number") from exc
    if not 0 <= seed < MAX_SEED:
        raise BadSampleRequest(f"seed must lie between 0 and {MAX_SEED - 1}")
    return seed


def number_param(value: str | None, name: str, low: float, high: float) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise BadSampleRequest(f"{name} must be a number") from exc
    if not low <= number <= high:
        raise BadSampleRequest(f"{name} must lie between {low:g} and {high:g}")
    return number


def leukemia_sample(params: dict[str, str]) -> dict[str, Any]:
    """A blood-cell image (PNG) of the chosen class."""
    cell_class = params.get("class") or leukemia.CLASSES[0]
    if cell_class not in leukemia.CLASSES:
        raise BadSampleRequest(f"class must be one of {', '.join(leukemia.CLASSES)}")
    seed = seed_param(params.get("seed"))
    cell = leukemia.draw_cell(cell_class, seed=seed, size=224)
    return {
        "image": _encode(cell.image, "PNG"),
        "media_type": "image/png",
        "filename": f"cell-{cell_class.lower()}-{seed}.png",
        "truth": {"class": cell_class, "seed": seed},
    }


def cxr_sample(params: dict[str, str]) -> dict[str, Any]:
    """A chest study as a DICOM file with exactly the chosen findings (none: a normal one)."""
    names = [name.strip() for name in params.get("findings", "").split(",") if name.strip()]
    unknown = [name for name in names if name not in cxr.FINDINGS]
    if unknown:
        raise BadSampleRequest(
            f"unknown finding(s) {', '.join(unknown)}: one of {', '.join(cxr.FINDINGS)}"
        )
    seed = seed_param(params.get("seed"))
    study = cxr.draw_study(seed, names)
    buffer = io.BytesIO()
    study.dataset.save_as(buffer, enforce_file_format=True)
    return {
        "dicom": base64.b64encode(buffer.getvalue()).decode("ascii"),
        "media_type": "application/dicom",
        "filename": f"phantom-study-{seed}.dcm",
        "truth": {
            "seed": seed,
            "findings": study.truth["findings"],
            "patient_id": study.truth["patient"]["patient_id"],
        },
    }


def pop_sample(params: dict[str, str]) -> dict[str, Any]:
    """A phone photo (JPEG) of a screen showing a radiograph, with chosen nuisances."""
    seed = seed_param(params.get("seed"))
    tilt = number_param(params.get("tilt"), "tilt", 0, 70)
    glare = number_param(params.get("glare"), "glare", 0, 1)
    moire = params.get("moire", "").lower() in {"1", "true", "on", "yes"}
    photo = pop.draw_pop(seed, tilt=tilt, glare=glare, moire=moire)
    return {
        "image": _encode(photo.image, "JPEG", quality=90),
        "media_type": "image/jpeg",
        "filename": f"pop-photo-{seed}.jpg",
        "truth": {
            "seed": seed,
            "vhs": photo.truth["vhs"],
            "vlas": photo.truth["vlas"],
            "tilt": tilt,
            "glare": glare,
            "moire": moire,
        },
    }


SAMPLES = {"leukemia": leukemia_sample, "cxr": cxr_sample, "pop": pop_sample}
