"""Input images as the web tier takes them: checked once, then sent once to a worker.

The view checks what the contract limits (bytes, format by content, size, pixel count) from
the image's header, without decoding its pixels; the worker decodes them once
(``inference.runtime.images``).  A base64 image travels on in the client's own text, never
decoded and encoded again; an uploaded file is encoded once.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from inference.imaging.decoding import ImageRejected, decode_base64_text, inspect_image


@dataclass(frozen=True)
class CheckedImage:
    """An image that passed the web tier's checks, in the form a worker receives."""

    image_b64: str
    format: str
    width: int
    height: int

    @property
    def size_text(self) -> str:
        return f"{self.width}x{self.height}"

    def item(self, **extra: Any) -> dict[str, Any]:
        """The task item: the image and what the product adds (``render``, …)."""
        return {"image_b64": self.image_b64, "format": self.format, **extra}


def _checked(raw: bytes, image_b64: str | None = None) -> CheckedImage:
    """Checks ``raw``; ``image_b64`` is its base64 text when the client sent it so."""
    image = inspect_image(
        raw, max_pixels=settings.IMAGE_MAX_PIXELS, max_bytes=settings.IMAGE_MAX_BYTES
    )
    if image_b64 is None:
        image_b64 = base64.b64encode(raw).decode("ascii")
    return CheckedImage(image_b64, str(image.format), image.width, image.height)


def check_base64(data: object, index: int | None = None) -> CheckedImage:
    """A base64 image, checked; a batch's ``index`` is named in the error message."""
    try:
        raw, text = decode_base64_text(data, max_bytes=settings.IMAGE_MAX_BYTES)
        return _checked(raw, text)
    except ImageRejected as exc:
        if index is not None and exc.kind != "too_large":
            exc.message = f"images[{index}]: {exc.message}"
        raise


def check_bytes(raw: bytes) -> CheckedImage:
    """An uploaded image's bytes, checked, then encoded once for the task."""
    return _checked(raw)


async def acheck_base64(data: object, index: int | None = None) -> CheckedImage:
    return await sync_to_async(check_base64, thread_sensitive=False)(data, index)


async def acheck_bytes(raw: bytes) -> CheckedImage:
    return await sync_to_async(check_bytes, thread_sensitive=False)(raw)
