"""The chest X-ray product's worker step from DICOM bytes to display pixels, decoded once.

The web tier read the header (patient, study, size) and sent the file's bytes beside the
task; here the worker reserves what the decoded frame will take from the process's pixel
budget (``inference.runtime.pixels``; float32 display pixels plus the decoder's own
buffer), takes the bytes, and decodes the first frame through ``inference.imaging.dicom``:
modality LUT, VOI LUT or window, MONOCHROME1 inversion, colour to luminance.  The pipeline
then has ``item["study"]`` (a ``DicomImage``) and ``item["pixels"]`` (its 0..1 array),
and, when the request asked for a DICOM Secondary Capture (``item["dicom_output"]``),
``item["source_header"]``: the file's header as pydicom read it (no pixel data), to copy the
patient and study from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from inference.imaging.dicom import DicomRejected, read_header_dataset, read_image
from inference.runtime import pixels
from inference.runtime.errors import InvalidInput
from inference.runtime.images import IMAGE_KEYS, budget_wait_s, image_bytes

#: Bytes a decoded pixel costs: the float32 display value and up to 4 bytes of the decoder's.
BYTES_PER_PIXEL = 8


def decoded_size(rows: int, columns: int) -> int:
    return rows * columns * BYTES_PER_PIXEL


@contextmanager
def decoded_study(item: dict[str, Any], deadline: float | None = None) -> Iterator[dict[str, Any]]:
    """``item`` with its DICOM decoded under ``study`` and ``pixels`` (see the module doc)."""
    announced = item.get("decoded_bytes")
    if not isinstance(announced, int) or announced <= 0:
        raise InvalidInput("unusable study: its decoded size was not announced")
    with pixels.budget().reserve(announced, budget_wait_s(deadline), deadline):
        raw = image_bytes(item)
        source_header = None
        try:
            study = read_image(raw, max_pixels=settings.CXR_MAX_PIXELS)
            if item.get("dicom_output"):
                source_header = read_header_dataset(raw)
        except DicomRejected as exc:
            raise InvalidInput(f"unusable study: {exc.message}") from exc
        finally:
            del raw
        if decoded_size(*study.pixels.shape) > announced:
            raise InvalidInput("unusable study: larger than its header said at the web tier")
        decoded = {k: v for k, v in item.items() if k not in IMAGE_KEYS and k != "decoded_bytes"}
        decoded["study"] = study
        decoded["pixels"] = study.pixels
        if source_header is not None:
            decoded["source_header"] = source_header
        yield decoded
