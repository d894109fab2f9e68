"""The one place a worker decodes a request's image.

The web tier checked the image already (format, size, pixel count) and sends its bytes once,
base64 in the task's JSON.  The worker decodes them here, once per request, into the checked
Pillow image every model group of the product then shares; checking again is cheap and keeps
a worker safe from anything else that can put a task on its queue.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.conf import settings

from inference.imaging.decoding import ImageRejected, open_image
from inference.runtime.errors import InvalidInput


def decode_item_image(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with ``image_b64`` replaced by the decoded ``image`` (other items unchanged)."""
    if not isinstance(item, dict) or "image_b64" not in item:
        return item
    decoded = {key: value for key, value in item.items() if key != "image_b64"}
    try:
        raw = base64.b64decode(item["image_b64"], validate=True)
        decoded["image"] = open_image(
            raw, max_pixels=settings.IMAGE_MAX_PIXELS, max_bytes=settings.IMAGE_MAX_BYTES
        )
    except (TypeError, binascii.Error, ImageRejected) as exc:
        raise InvalidInput(f"unusable image: {exc}") from exc
    return decoded
