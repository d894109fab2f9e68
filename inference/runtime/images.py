"""The one place a worker decodes a request's image.

The web tier checked the image already (format, size, pixel count) and stored its bytes once
beside the task (``inference.runtime.payloads``); the task carries only their key.  The
worker reserves the decoded pixels' bytes from the process's budget
(``inference.runtime.pixels``) first, then takes the bytes, reads the header again (cheap,
and it keeps a worker safe from anything else that can put a task on its queue), and only
then decodes them, once, into the Pillow image every model group of the product shares.
The reservation is held until the request is done with the image, which is then closed, so
its pixels are freed before the next request's take their place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from PIL import Image

from inference.imaging.decoding import ImageRejected, inspect_image
from inference.runtime import payloads, pixels
from inference.runtime.errors import InvalidInput

#: The item keys an image can arrive under: a payload key (through a task), or bytes (in
#: process: benchmarks, evaluation).
IMAGE_KEYS = ("image_ref", "image_bytes")


def image_bytes(item: dict[str, Any]) -> bytes:
    if "image_ref" in item:
        return payloads.read(item["image_ref"])  # left for a redelivered task (payloads)
    raw = item["image_bytes"]
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise InvalidInput("unusable image: image_bytes must be bytes")
    return bytes(raw)


def budget_wait_s(deadline: float | None) -> float:
    wait = float(settings.DECODED_PIXELS_WAIT_SECONDS)
    if deadline is not None:
        wait = min(wait, max(0.0, deadline - time.monotonic()))
    return wait


@contextmanager
def decoded_item(item: Any, deadline: float | None = None) -> Iterator[Any]:
    """``item`` with its image decoded under ``image``, its pixels reserved until exit.

    An item without an image (``IMAGE_KEYS``) is yielded unchanged.  The web tier announces
    the decoded size it read from the header (``decoded_bytes``), so the pixels are reserved
    before the bytes are fetched: a task waiting for its turn holds nothing.  The header is
    read again all the same, and an image larger than announced is refused.  ``deadline``
    is a ``time.monotonic()`` instant; waiting for the budget never outlasts it.  Raises
    ``InvalidInput`` for an unusable image and ``Overloaded`` when the pixels do not fit.
    """
    if not isinstance(item, dict) or not any(key in item for key in IMAGE_KEYS):
        yield item
        return
    announced = item.get("decoded_bytes")
    if isinstance(announced, int) and announced > 0:
        with pixels.budget().reserve(announced, budget_wait_s(deadline), deadline):
            image = _checked_header(image_bytes(item))
            if _decoded_size(image) > announced:
                raise InvalidInput("unusable image: larger than its header said at the web tier")
            with _decoded(item, image) as decoded:
                yield decoded
        return
    image = _checked_header(image_bytes(item))
    with (
        pixels.budget().reserve(_decoded_size(image), budget_wait_s(deadline), deadline),
        _decoded(item, image) as decoded,
    ):
        yield decoded


def _checked_header(raw: bytes) -> Image.Image:
    try:
        return inspect_image(
            raw, max_pixels=settings.IMAGE_MAX_PIXELS, max_bytes=settings.IMAGE_MAX_BYTES
        )
    except ImageRejected as exc:
        raise InvalidInput(f"unusable image: {exc}") from exc


def _decoded_size(image: Image.Image) -> int:
    return pixels.decoded_bytes(image.width, image.height, image.mode)


@contextmanager
def _decoded(item: dict[str, Any], image: Image.Image) -> Iterator[dict[str, Any]]:
    """The item as pipelines take it; the image is closed (its pixels freed) on exit."""
    try:
        _load(image)
        decoded = {
            key: value
            for key, value in item.items()
            if key not in IMAGE_KEYS and key != "decoded_bytes"
        }
        decoded["image"] = image
        yield decoded
    finally:
        image.close()


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidInput("unusable image: the image data is corrupted") from exc
