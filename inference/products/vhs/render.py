"""The annotated image of ``render: true``: landmarks, axes, vertebral scale, VHS and VLAS.

Drawn on the original image at its own size, returned as base64 in the input's format (JPEG
in, JPEG out; PNG in, PNG out), so a viewer can lay it over the study it came from.
"""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
from PIL import Image

from inference.products.vhs.analysis import FrameResult
from inference.products.vhs.geometry import VERTEBRAE_SPANNED, to_pixels

# Normal ranges printed with the values (seed 002, Measurements).
VHS_NORMAL = "normal 8.5-10.5"
VLAS_NORMAL = "normal < 2.5"

_LONG_AXIS = (0, 200, 255)  # BGR: orange
_SHORT_AXIS = (255, 200, 0)  # cyan
_VLAS = (255, 0, 255)  # magenta
_SPINE = (0, 255, 0)  # green
_TEXT = (255, 255, 255)


def _point(p: tuple[float, float]) -> tuple[int, int]:
    return round(p[0]), round(p[1])


def render(image: Image.Image, frame: FrameResult, image_format: str) -> str:
    canvas = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)
    height, width = canvas.shape[:2]
    thickness = max(1, round(min(width, height) / 300))
    if frame.landmarks is not None:
        px = to_pixels(frame.landmarks, width, height)
        cv2.line(canvas, _point(px["heart_top"]), _point(px["heart_bottom"]), _LONG_AXIS, thickness)
        cv2.line(
            canvas, _point(px["heart_right"]), _point(px["heart_left"]), _SHORT_AXIS, thickness
        )
        if frame.vlas is not None:
            cv2.line(canvas, _point(px["heart_top"]), _point(px["VLAS"]), _VLAS, thickness)
        _vertebral_scale(canvas, px["Vertebra A"], px["Vertebra B"], thickness)
        for name, p in px.items():
            cv2.circle(canvas, _point(p), thickness * 3, (0, 0, 255), -1)
            cv2.putText(
                canvas,
                name,
                (_point(p)[0] + 6, _point(p)[1] - 6),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.35 * thickness,
                _TEXT,
                1,
                cv2.LINE_AA,
            )
    lines = [
        f"VHS {frame.vhs:.1f} ({VHS_NORMAL})" if frame.vhs is not None else "VHS n/a",
        f"VLAS {frame.vlas:.1f} ({VLAS_NORMAL})" if frame.vlas is not None else "VLAS n/a",
        f"confidence {frame.confidence}",
    ]
    for row, text in enumerate(lines):
        origin = (10, 24 * thickness * (row + 1))
        cv2.putText(
            canvas,
            text,
            origin,
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 * thickness,
            (0, 0, 0),
            3 * thickness,
            cv2.LINE_AA,
        )
        cv2.putText(
            canvas,
            text,
            origin,
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 * thickness,
            _TEXT,
            thickness,
            cv2.LINE_AA,
        )
    out = io.BytesIO()
    result = Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    if image_format == "JPEG":
        result.save(out, format="JPEG", quality=90)
    else:
        result.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def _vertebral_scale(
    canvas: np.ndarray, a: tuple[float, float], b: tuple[float, float], t: int
) -> None:
    """The A-B reference with a tick at every vertebra, so the count can be checked by eye."""
    cv2.line(canvas, _point(a), _point(b), _SPINE, t)
    dx, dy = (b[0] - a[0]) / VERTEBRAE_SPANNED, (b[1] - a[1]) / VERTEBRAE_SPANNED
    norm = max(1e-6, (dx * dx + dy * dy) ** 0.5)
    nx, ny = -dy / norm * 6 * t, dx / norm * 6 * t
    for i in range(VERTEBRAE_SPANNED + 1):
        cx, cy = a[0] + dx * i, a[1] + dy * i
        cv2.line(canvas, _point((cx - nx, cy - ny)), _point((cx + nx, cy + ny)), _SPINE, t)
