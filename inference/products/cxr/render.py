"""The heatmap overlay: class activation over the radiograph, with a colour scale.

The 16x16 map is upsampled smoothly to the image, shown in the JET colour map where it is
warm (below a quarter of its peak the radiograph shows through untouched, so the eye goes to
what drove the finding), and a colour bar on the right says what the colours mean.  The
pipeline encodes the one RGB array as the PNG and, when asked, as a DICOM Secondary Capture.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Below this fraction of the map's peak nothing is tinted.
_FLOOR = 0.25
_ALPHA = 0.45
_BAR_WIDTH = 18


def overlay(pixels: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The display image (0..1) with ``heat`` (0..1, any grid) over it, as RGB (uint8).

    It has the image's rows, and its columns followed by a 4-pixel gap and the colour bar.
    """
    gray = np.clip(pixels * 255.0, 0, 255).astype(np.uint8)
    height, width = gray.shape
    heat = cv2.resize(heat.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    heat = np.clip(heat, 0.0, 1.0)
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
    base = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    weight = (np.clip((heat - _FLOOR) / (1 - _FLOOR), 0, 1) * _ALPHA)[..., None]
    blended = (base * (1 - weight) + colour * weight).astype(np.uint8)
    bar_width = max(_BAR_WIDTH, width // 40)
    ramp = np.linspace(255, 0, height).astype(np.uint8)[:, None].repeat(bar_width, axis=1)
    bar = cv2.applyColorMap(ramp, cv2.COLORMAP_JET)
    framed = np.concatenate([blended, np.zeros((height, 4, 3), np.uint8), bar], axis=1)
    return cv2.cvtColor(framed, cv2.COLOR_BGR2RGB)


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB (uint8) image."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()
