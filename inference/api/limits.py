"""How large a request body an endpoint accepts, computed from what its contract allows.

A view declares what its body carries (``ProductView.body_limit``): ``Base64Images(10)`` is
a JSON document with up to ten base64 images, ``UploadedImages(1)`` a multipart form with one
file.  The limit follows from ``IMAGE_MAX_BYTES`` at the time of the request, so it always
admits the largest legal body and nothing much larger.  ``config.body_limit`` refuses a
larger body before Django reads it, in the envelope of the product the path belongs to;
endpoints that declare nothing get ``MAX_REQUEST_BODY_BYTES``.

Base64 turns every 3 bytes into 4 characters.  A client may also wrap its base64 at 76
columns (``base64`` on the command line does): decoding ignores whitespace, so each line
break, written ``\\r\\n`` in JSON (4 characters), is allowed for too, as are a
``data:image/...;base64,`` prefix, the quotes and separators around each image, and the rest
of the document (``uuid``, ``render``, indentation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

#: Base64 line length of MIME (RFC 2045), the longest wrapping a client is likely to use.
BASE64_LINE = 76
#: Characters a JSON string needs for one escaped CRLF line break.
JSON_LINE_BREAK = 4
#: A ``data:image/...;base64,`` prefix, the quotes and the separator around one image.
PER_IMAGE_OVERHEAD = 256
#: The multipart headers and boundary around one uploaded file.
PER_PART_OVERHEAD = 1024
#: Everything in the body that is not an image.
DOCUMENT_OVERHEAD = 64 * 1024


class BodyLimit(Protocol):
    def max_body_bytes(self) -> int:
        """The largest body the endpoint accepts, in bytes."""
        ...

    def describe(self) -> str:
        """What the limit admits, for the 413's message."""
        ...


def base64_length(nbytes: int) -> int:
    """Characters of ``nbytes`` in base64, with a JSON-escaped line break every 76."""
    text = 4 * math.ceil(nbytes / 3)
    return text + JSON_LINE_BREAK * math.ceil(text / BASE64_LINE)


def _megabytes(nbytes: int) -> str:
    return f"{nbytes / (1024 * 1024):g} MB"


@dataclass(frozen=True)
class Base64Images:
    """A JSON body with up to ``count`` base64 images of at most ``IMAGE_MAX_BYTES`` each."""

    count: int

    def max_body_bytes(self) -> int:
        per_image = base64_length(settings.IMAGE_MAX_BYTES) + PER_IMAGE_OVERHEAD
        return self.count * per_image + DOCUMENT_OVERHEAD

    def describe(self) -> str:
        images = "1 image" if self.count == 1 else f"{self.count} images"
        return f"{images} of {_megabytes(settings.IMAGE_MAX_BYTES)}, base64"


@dataclass(frozen=True)
class UploadedImages:
    """A multipart body with up to ``count`` files of at most ``IMAGE_MAX_BYTES`` each."""

    count: int

    def max_body_bytes(self) -> int:
        return self.count * (settings.IMAGE_MAX_BYTES + PER_PART_OVERHEAD) + DOCUMENT_OVERHEAD

    def describe(self) -> str:
        files = "1 file" if self.count == 1 else f"{self.count} files"
        return f"{files} of {_megabytes(settings.IMAGE_MAX_BYTES)}"


def refusal_message(limit: int, described: str = "") -> str:
    """The 413's wording: the body, not an image, is too large, and what the limit admits."""
    return f"Request body exceeds the maximum of {limit} bytes" + (
        f" ({described})" if described else ""
    )
