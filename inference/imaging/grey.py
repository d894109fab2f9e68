"""High-bit-depth grey to 8 bits: the one place an upload's 12-16-bit pixels are windowed.

Radiographs and micrographs are often stored with 12 to 16 bits a pixel (PNG ``I;16``, or
``I``/``F`` once decoded), yet every network here sees 8-bit grey or RGB.  Pillow's own
``convert("L")`` clips such values at 255, so a 16-bit radiograph becomes a white frame
(issue 20, item 7).  Instead each image is windowed to its own range, minimum to maximum:
whatever the depth it was stored in (0..65535, 12 bits in 16 as 0..4095), the same film
gives the same 8-bit picture, the one its 8-bit original stretched to 0..255 gives.

The minimum-to-maximum window was measured against the alternatives on ten VHS phantom
dogs, each as 16 bits (0..65535) and as 12 bits in 16 (0..4095): min..max, 0.5-99.5 %
percentiles and 0..max all gave the 8-bit film's result code and VHS exactly.  Min..max is
kept because it reproduces an 8-bit film spanning 0..255 pixel for pixel (percentiles clip
its lead marker and collimation bands, 0..max keeps a detector's pedestal as grey), and it is
what the leukemia and PoP inputs already did (``tests/test_vhs_16bit.py``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Modes holding one grey value a pixel in more than 8 bits.
HIGH_BIT_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def window_to_8_bit(image: Image.Image) -> Image.Image:
    """A high-bit-depth grey image (``HIGH_BIT_DEPTH_MODES``) -> ``L``, min..max -> 0..255.

    A flat image (one value throughout) gives black.  Non-finite values of an ``F`` image
    count as its minimum.
    """
    values = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, values[finite].min() if finite.any() else 0.0)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if high <= low:
        return Image.new("L", image.size, 0)
    scaled = (values - low) * (255.0 / (high - low)) + 0.5
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")


def to_gray8(image: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit grey (``L``): high bit depths windowed, colour as luminance.

    ``L`` comes back as it is; ``RGB``, ``LA``, ``P`` and the rest by Pillow's luminance
    (through RGB, alpha ignored).
    """
    gray = to_gray8_or_rgb(image)
    return gray if gray.mode == "L" else gray.convert("L")


def to_gray8_or_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> ``L`` or ``RGB``: high bit depths windowed to ``L``, colour kept.

    ``L`` and ``RGB`` come back as they are; transparency is not this function's concern
    (callers lay it over their own background first).
    """
    if image.mode in ("L", "RGB"):
        return image
    if image.mode in HIGH_BIT_DEPTH_MODES:
        return window_to_8_bit(image)
    return image.convert("RGB")
