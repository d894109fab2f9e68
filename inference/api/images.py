"""Input images as the web tier takes them: checked once, then sent once to a worker.

The view checks what the contract limits (bytes, format by content, size, pixel count) from
the image's header, without decoding its pixels; the worker decodes them once
(``inference.runtime.images``).  The checked image keeps its raw bytes, which
``inference.api.inference.run_items`` stores once beside the task
(``inference.runtime.payloads``): a task message carries only their key, never base64 text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from inference.imaging.decoding import ImageRejected, decode_base64, inspect_image
from inference.runtime.pixels import decoded_bytes


@dataclass(eq=False)
class CheckedImage:
    """An image that passed the web tier's checks: its bytes and what its header says.

    The bytes are sent once: ``item()`` moves them into the task item, and ``run_items``
    moves them on into the payload store, so a request holds no copy while it waits.
    """

    data: bytes | None = field(repr=False)
    format: str
    width: int
    height: int
    mode: str = "RGB"

    @property
    def size_text(self) -> str:
        return f"{self.width}x{self.height}"

    def item(self, **extra: Any) -> dict[str, Any]:
        """The task item: the image and what the product adds (``render``, …).

        ``image_bytes`` never reaches the broker: ``run_items`` stores it and sends its key.
        """
        if self.data is None:
            raise RuntimeError("this image's bytes were sent already")
        data, self.data = self.data, None
        return {
            "image_bytes": data,
            "format": self.format,
            # What the worker reserves from its pixel budget before it fetches the bytes.
            "decoded_bytes": decoded_bytes(self.width, self.height, self.mode),
            **extra,
        }


def _checked(raw: bytes) -> CheckedImage:
    image = inspect_image(
        raw, max_pixels=settings.IMAGE_MAX_PIXELS, max_bytes=settings.IMAGE_MAX_BYTES
    )
    return CheckedImage(raw, str(image.format), image.width, image.height, image.mode)


def check_base64(data: object, index: int | None = None) -> CheckedImage:
    """A base64 image, checked; a batch's ``index`` is named in the error message."""
    try:
        return _checked(decode_base64(data, max_bytes=settings.IMAGE_MAX_BYTES))
    except ImageRejected as exc:
        if index is not None and exc.kind != "too_large":
            exc.message = f"images[{index}]: {exc.message}"
        raise


def check_bytes(raw: bytes) -> CheckedImage:
    """An uploaded image's bytes, checked."""
    return _checked(raw)


async def acheck_base64(data: object, index: int | None = None) -> CheckedImage:
    return await sync_to_async(check_base64, thread_sensitive=False)(data, index)


async def acheck_bytes(raw: bytes) -> CheckedImage:
    return await sync_to_async(check_bytes, thread_sensitive=False)(raw)
