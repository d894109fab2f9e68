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
_FONT = cv2.FONT_HERSHEY_SIMPLEX


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
            if name == "VLAS" and frame.vlas is None:
                continue  # not seen (code 4): no point to show
            cv2.circle(canvas, _point(p), thickness * 3, (0, 0, 255), -1)
            cv2.putText(
                canvas,
                name,
                (_point(p)[0] + 6, _point(p)[1] - 6),
                _FONT,
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
    _caption(canvas, lines, min(width, height))
    out = io.BytesIO()
    result = Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    if image_format == "JPEG":
        result.save(out, format="JPEG", quality=90)
    else:
        result.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def _caption(canvas: np.ndarray, lines: list[str], side: int) -> None:
    """White text on a translucent dark box in the top-left corner, sized to the image.

    A box, not an outline: outlined small Hershey text smears into the letters on the
    400-600 px images clients send.
    """
    scale = 0.45 * max(1.0, side / 500)
    thickness = max(1, round(side / 500))
    sizes = [cv2.getTextSize(text, _FONT, scale, thickness) for text in lines]
    line_height = max(h + baseline for (_, h), baseline in sizes) + 4 * thickness
    box = (max(w for (w, _), _ in sizes) + 12 * thickness, line_height * len(lines) + 6)
    shaded = canvas.copy()
    cv2.rectangle(shaded, (0, 0), box, (0, 0, 0), -1)
    cv2.addWeighted(shaded, 0.6, canvas, 0.4, 0, dst=canvas)
    for row, text in enumerate(lines):
        origin = (6 * thickness, line_height * (row + 1) - 2)
        cv2.putText(canvas, text, origin, _FONT, scale, _TEXT, thickness, cv2.LINE_AA)


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
