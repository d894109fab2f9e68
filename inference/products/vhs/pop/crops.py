"""Square crops around each screen corner, for the corner network (``network.CornerNet``).

A crop is centred on a corner estimate and spans ``CROP_FRACTION`` of the photo's diagonal
either side, resampled to ``CROP_SIZE`` pixels and flipped so that every corner looks like a
top-left one (the screen's image area towards the crop's lower right): one network serves all
four corners, and sees four times the examples.  ``corner_crops`` gives the crops and
``from_crop`` maps a position in a crop back to photo pixels (continuous coordinates: the
photo spans ``[0, W] x [0, H]``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

CROP_SIZE = 64
#: Half the crop's side, as a fraction of the photo's diagonal (covers a coarse corner that
#: is off by up to about 5 % of the diagonal).
CROP_FRACTION = 0.06
#: Per corner (TL, TR, BR, BL): the flips that make it look like a top-left corner.
FLIPS = ((1, 1), (-1, 1), (-1, -1), (1, -1))


def half_side(width: int, height: int) -> float:
    return CROP_FRACTION * math.hypot(width, height)


def corner_crops(rgb: np.ndarray, centres: np.ndarray, half: float) -> np.ndarray:
    """``[4, CROP_SIZE, CROP_SIZE, 3]`` uint8 crops of ``rgb`` (``[H, W, 3]`` uint8) around
    ``centres`` (``[4, 2]`` continuous pixels, TL, TR, BR, BL), each ``2 * half`` wide."""
    height, width = rgb.shape[:2]
    scale = 2.0 * half / CROP_SIZE  # photo pixels per crop pixel
    crops = np.empty((4, CROP_SIZE, CROP_SIZE, 3), np.uint8)
    pad = math.ceil(half + 2 + 3 * scale)
    for index, ((cx, cy), (sx, sy)) in enumerate(zip(centres, FLIPS, strict=True)):
        # The region around the centre, padded by replication, smoothed before shrinking.
        x0, y0 = math.floor(cx) - pad, math.floor(cy) - pad
        x1, y1 = x0 + 2 * pad, y0 + 2 * pad
        region = _region(rgb, x0, y0, x1, y1, width, height)
        if scale > 1.2:
            region = cv2.GaussianBlur(region, (0, 0), 0.45 * scale)
        # Crop pixel u (centre u + 0.5) -> continuous x = cx + sx * half * (2 (u + 0.5) / S - 1)
        # -> region pixel index x - 0.5 - x0.
        matrix = np.array(
            [
                [sx * scale, 0.0, cx - 0.5 - x0 + sx * half * (1.0 / CROP_SIZE - 1.0)],
                [0.0, sy * scale, cy - 0.5 - y0 + sy * half * (1.0 / CROP_SIZE - 1.0)],
            ],
            np.float64,
        )
        crops[index] = cv2.warpAffine(
            region,
            matrix,
            (CROP_SIZE, CROP_SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
    return crops


def _region(
    rgb: np.ndarray, x0: int, y0: int, x1: int, y1: int, width: int, height: int
) -> np.ndarray:
    """``rgb[y0:y1, x0:x1]``, edge pixels replicated where the box leaves the photo."""
    xs = np.clip(np.arange(x0, x1), 0, width - 1)
    ys = np.clip(np.arange(y0, y1), 0, height - 1)
    return np.ascontiguousarray(rgb[ys[:, None], xs[None, :]])


def to_crop(points: np.ndarray, centres: np.ndarray, half: float) -> np.ndarray:
    """Photo positions ``[4, 2]`` -> each in its own crop's normalised ``[0, 1]`` frame."""
    flips = np.array(FLIPS, np.float64)
    return (1.0 + flips * (np.asarray(points) - centres) / half) / 2.0


def from_crop(positions: np.ndarray, centres: np.ndarray, half: float) -> np.ndarray:
    """Normalised crop positions ``[4, 2]`` -> photo pixels."""
    flips = np.array(FLIPS, np.float64)
    return np.asarray(centres) + flips * half * (2.0 * np.asarray(positions) - 1.0)
