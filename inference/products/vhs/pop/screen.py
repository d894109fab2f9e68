"""Finding the screen in a PoP photo and rectifying it, on the worker (OpenCV, the network).

A PoP photo is a phone photo of a monitor or lightbox showing a radiograph.  ``find_screen``
runs the PoP network (one batched forward pass through the runtime's ``pop`` group: is this
a photo of a screen, is the screen fully in view, where are its corners roughly), places
each corner on a crop of the full-resolution photo around it (the ``pop_corners`` group,
twice), fits the screen's edges there to sub-pixel accuracy (``corners.refine``) and
measures what the person holding the phone can fix (``quality``).  ``rectify`` maps the
screen's image area to a fronto-parallel picture for the measuring networks.

``pipeline.examine`` calls both; the web tier's feedback (``feedback``) and corner validation
(``geometry``) import no torch or OpenCV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from inference.products.vhs.pop.corners import refine
from inference.products.vhs.pop.geometry import (
    check_corners,
    rectangle_aspect,
    side_lengths,
    tilt_degrees,
)
from inference.products.vhs.pop.network import gray_or_rgb

__all__ = ["POP_THRESHOLD", "ScreenFinding", "find_screen", "rectify"]

POP_GROUP = "pop"
#: The corner network's group (crops around the coarse corners); without it the edges are
#: searched around the coarse corners directly.
CORNER_GROUP = "pop_corners"
#: P(PoP) at or above which a photo is treated as a photo of a screen.
POP_THRESHOLD = 0.5
#: P(screen fully in view) below which no corners are reported (code 7).
IN_VIEW_THRESHOLD = 0.5
#: The refinement searches this fraction of the photo's diagonal either side of each side:
#: around the coarse corners, or (narrower) around the corner network's.
SEARCH_FRACTION = 0.02
FINE_SEARCH_FRACTION = 0.006
#: Corner network passes, each on crops centred where the previous one put the corners.
CORNER_PASSES = 2
#: A pixel whose three channels all reach this counts as clipped by glare.
GLARE_LEVEL = 245
#: The screen is looked for on a copy at most this large (a 40-megapixel photo would cost
#: hundreds of MB of float pixels for edges a 2048-pixel copy places to 0.05 % of its
#: diagonal); the corners are scaled back to the photo.
FIND_MAX_SIDE = 2048
#: Largest side of a rectified image (a 12 MP photo need not become a 12 MP radiograph).
MAX_RECTIFIED_SIDE = 2048


@dataclass(frozen=True)
class ScreenFinding:
    """What ``find_screen`` saw in one photo."""

    pop_detected: bool  # a photo of a screen or lightbox (True) or a direct image (False)
    score: float  # the network's P(PoP)
    corners: list[tuple[float, float]] | None  # image area, pixels, TL, TR, BR, BL
    quality: dict[str, Any]  # JSON-safe measures for feedback (see ``find_screen``)


def find_screen(
    models: Any, image: Image.Image, deadline: float | None, require_screen: bool = True
) -> ScreenFinding:
    """Detect a photographed screen and its corners in ``image``: the PoP network's coarse
    corners, the corner network's on crops around them (``CORNER_PASSES`` times), then each
    side's edge fitted on the full photo (``corners.refine``).

    ``require_screen=False`` (``/v3/corners``, ``/v3/preprocess``) looks for corners even when
    the network says the photo is not of a screen.  ``corners`` is None when the screen is
    not fully in view or no valid quadrilateral results (``geometry.check_corners``).

    ``quality`` (only for a photo treated as a screen): ``screen_in_view`` (bool),
    ``in_view_probability``, ``glare`` (share of the screen's pixels clipped white),
    ``tilt_degrees`` (screen normal vs camera axis), ``blur_px`` (Gaussian sigma of the
    screen's edges) and ``sharpness`` (1 / (1 + blur relative to 0.2 % of the screen's
    diagonal): 1 sharp, below 0.35 blurred), ``edges_found`` (sides refined, of 4).
    """
    photo_size = image.size
    image, (fx, fy) = _working_copy(image)
    output = models.predict(POP_GROUP, {"image": image}, deadline)
    score = float(output["pop_probability"])
    detected = score >= POP_THRESHOLD
    if not detected and require_screen:
        return ScreenFinding(False, round(score, 4), None, {})
    width, height = image.size
    in_view_probability = float(output["in_view_probability"])
    quality: dict[str, Any] = {
        "screen_in_view": in_view_probability >= IN_VIEW_THRESHOLD,
        "in_view_probability": round(in_view_probability, 4),
    }
    coarse = np.array(output["corners"], np.float64) * [width, height]
    source = gray_or_rgb(image)
    gray = np.asarray(source.convert("L"), np.float32) / 255.0
    search = max(4.0, SEARCH_FRACTION * math.hypot(width, height))
    if models.available(CORNER_GROUP):
        for _ in range(CORNER_PASSES):
            located = models.predict(CORNER_GROUP, {"image": source, "corners": coarse}, deadline)
            coarse = np.array(located["corners"], np.float64)
        search = max(3.0, FINE_SEARCH_FRACTION * math.hypot(width, height))
    refined = refine(gray, coarse, search)
    corners = [(float(x), float(y)) for x, y in refined.corners]
    quality.update(_quality(source, corners, refined.blur_px))
    quality["edges_found"] = refined.sides_found
    # The network's coarse corners alone are a guess: a screen shows its edges in the pixels.
    # Without a single one (a uniform wall, a blank image) there is no screen, whatever the
    # network said: the photo is measured as it is (and a blank one rejected, code 6).  A
    # photo the network does not take for a screen (asked for its corners anyway) needs all
    # four edges.
    if refined.sides_found == 0:
        return ScreenFinding(False, round(score, 4), None, {})
    if (fx, fy) != (1.0, 1.0):  # back to the photo's pixels
        corners = [(x / fx, y / fy) for x, y in corners]
        if quality.get("blur_px") is not None:
            quality["blur_px"] = round(quality["blur_px"] / fx, 2)
    unseen = not detected and refined.sides_found < 4
    if unseen or not quality["screen_in_view"] or check_corners(corners, *photo_size):
        return ScreenFinding(detected, round(score, 4), None, quality)
    return ScreenFinding(detected, round(score, 4), corners, quality)


def _working_copy(image: Image.Image) -> tuple[Image.Image, tuple[float, float]]:
    """``image``, or a copy at most ``FIND_MAX_SIDE`` on its long side; each axis's scale
    (as rounded, so continuous corner coordinates scale back exactly)."""
    longest = max(image.size)
    if longest <= FIND_MAX_SIDE:
        return image, (1.0, 1.0)
    factor = FIND_MAX_SIDE / longest
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    copy = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return copy, (size[0] / image.width, size[1] / image.height)


def _quality(
    image: Image.Image, corners: list[tuple[float, float]], blur_px: float | None
) -> dict[str, Any]:
    width, height = image.size
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, np.round(np.array(corners) - 0.5).astype(np.int32), 1)
    pixels = np.asarray(image.convert("RGB"))
    inside = mask.astype(bool)
    clipped = pixels.min(axis=2) >= GLARE_LEVEL
    glare = float(clipped[inside].mean()) if inside.any() else 0.0
    diagonal = math.dist(corners[0], corners[2])
    sharpness = None
    if blur_px is not None:
        sharpness = round(1.0 / (1.0 + blur_px / max(0.002 * diagonal, 1e-6)), 3)
    try:
        tilt = tilt_degrees(corners, width, height)
    except (np.linalg.LinAlgError, ValueError):
        tilt = None
    return {
        "glare": round(glare, 4),
        "tilt_degrees": tilt,
        "blur_px": None if blur_px is None else round(blur_px, 2),
        "sharpness": sharpness,
    }


def rectify(image: Image.Image, corners: Any) -> Image.Image:
    """The quadrilateral ``corners`` (TL, TR, BR, BL, continuous pixels) of ``image``, seen
    face on: an ``L`` image (the measuring networks read grey; a screen's colour is the
    room's light and the display's white point, not the radiograph's).

    Its height is the mean of the left and right sides, its width that times the rectangle's
    aspect ratio as the perspective tells it (``geometry.rectangle_aspect``), so a tilted
    screen is not squashed; at most ``MAX_RECTIFIED_SIDE`` on its longer side.
    """
    points = np.asarray(corners, np.float64).reshape(4, 2)
    width, height = image.size
    _, right, _, left = side_lengths(points)
    out_h = (left + right) / 2
    out_w = out_h * rectangle_aspect(points, width, height)
    factor = min(1.0, MAX_RECTIFIED_SIDE / max(out_w, out_h))
    out_w, out_h = max(8, round(out_w * factor)), max(8, round(out_h * factor))
    target = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], np.float32)
    matrix = cv2.getPerspectiveTransform(
        (points - 0.5).astype(np.float32), (target - 0.5).astype(np.float32)
    )
    gray = np.asarray(gray_or_rgb(image).convert("L"))
    warped = cv2.warpPerspective(
        gray, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return Image.fromarray(_stretched(warped), "L")


def _stretched(pixels: np.ndarray) -> np.ndarray:
    """Levels stretched from the 0.5th to the 99.5th percentile: a screen's black is grey (its
    backlight, the room's reflection, a glare veil), a film's is black; the measuring
    networks and the radiograph classifier were trained on films."""
    low, high = np.percentile(pixels, (0.5, 99.5))
    if high - low < 8:
        return pixels
    scaled = (pixels.astype(np.float32) - low) * (255.0 / (high - low))
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
