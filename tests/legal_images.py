"""The largest images a contract allows, made cheaply: just under 10 MB, 40 megapixels.

A phantom radiograph is enlarged (nearest neighbour, so it compresses to about 1 MB) to just
under ``IMAGE_MAX_PIXELS``, then padded to just under ``IMAGE_MAX_BYTES`` with a private
ancillary PNG chunk of random bytes, which decoders skip.  So each image costs what a real
worst case costs: every byte of it travels and is checked, and it decodes to 160 MB of RGB
pixels (as Pillow stores them), yet one takes about a second to make.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import zlib

from PIL import Image

#: Just under the default IMAGE_MAX_PIXELS (40,000,000) and IMAGE_MAX_BYTES (10 MiB).
SIZE = (7300, 5470)
NEAR_MAX_BYTES = 10 * 1024 * 1024 - 1024
PADDING_CHUNK = b"paDd"  # ancillary, private, safe to copy: decoders skip it


@functools.cache
def _enlarged_radiograph_png() -> bytes:
    from inference.phantoms.vhs import draw_radiograph

    small = draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False, mode="RGB").image
    buffer = io.BytesIO()
    small.resize(SIZE, Image.Resampling.NEAREST).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def padded(png: bytes, total: int) -> bytes:
    """``png`` with a chunk of random bytes before ``IEND``, ``total`` bytes in all."""
    end = png.rindex(b"IEND") - 4
    data = os.urandom(total - len(png) - 12)
    chunk = (
        struct.pack(">I", len(data))
        + PADDING_CHUNK
        + data
        + struct.pack(">I", zlib.crc32(PADDING_CHUNK + data))
    )
    return png[:end] + chunk + png[end:]


def legal_radiograph(total: int = NEAR_MAX_BYTES) -> bytes:
    """A 40-megapixel RGB radiograph PNG of ``total`` bytes (each call's padding differs)."""
    return padded(_enlarged_radiograph_png(), total)
