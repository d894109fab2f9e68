"""VHS and VLAS from the seven landmarks, in the pixel space of the original image.

Convention (Buchanan & Bücheler 1995, as coded by the Dog VHS dataset):

* **Vertebra A** is the cranial edge of T4 and **Vertebra B** the caudal edge of T9, so
  |AB| spans ``VERTEBRAE_SPANNED`` = 6 vertebrae (a vertebral body plus the disc space
  behind it each); one vertebral unit is |AB| / 6.
* The **long axis** runs from ``heart_top`` (ventral border of the left main-stem bronchus,
  the carina) to ``heart_bottom`` (the cardiac apex); the **short axis** from
  ``heart_right`` to ``heart_left`` (widest extent, perpendicular to the long axis).
* **VHS** = (|long| + |short|) / unit = 6 · (|long| + |short|) / |AB|.
* **VLAS** = |heart_top → VLAS point| / unit, the VLAS point being the caudal border of the
  left atrium where it meets the caudal vena cava / vertebral column.

Lengths are measured in pixels of the original image: normalised coordinates are scaled by
the image's own width and height first, so a non-square image is not distorted.  Values are
rounded to one decimal as the seed reports them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LANDMARKS: tuple[str, ...] = (
    "heart_top",
    "heart_bottom",
    "heart_right",
    "heart_left",
    "VLAS",
    "Vertebra A",
    "Vertebra B",
)
VERTEBRAE_SPANNED = 6
# Axes within this many degrees of 90 count as perpendicular.
PERPENDICULAR_TOLERANCE_DEG = 15.0

Point = tuple[float, float]


@dataclass(frozen=True)
class Measurement:
    vhs: float
    vlas: float
    long_axis_vertebrae: float
    short_axis_vertebrae: float
    vertebral_unit_px: float
    axes_angle_deg: float

    @property
    def axes_perpendicular(self) -> bool:
        return abs(self.axes_angle_deg - 90.0) <= PERPENDICULAR_TOLERANCE_DEG


def to_pixels(points: dict[str, Point], width: int, height: int) -> dict[str, Point]:
    """Normalised (0 to 1) coordinates -> pixels of a ``width`` x ``height`` image."""
    return {name: (x * width, y * height) for name, (x, y) in points.items()}


def distance(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def angle_between_deg(a: tuple[Point, Point], b: tuple[Point, Point]) -> float:
    """The acute angle (0 to 90 degrees) between the lines through two segments."""
    ax, ay = a[1][0] - a[0][0], a[1][1] - a[0][1]
    bx, by = b[1][0] - b[0][0], b[1][1] - b[0][1]
    norm = math.hypot(ax, ay) * math.hypot(bx, by)
    if norm == 0:
        return 0.0
    cosine = max(-1.0, min(1.0, (ax * bx + ay * by) / norm))
    angle = math.degrees(math.acos(cosine))
    return 180.0 - angle if angle > 90.0 else angle


def measure(points: dict[str, Point], width: int, height: int) -> Measurement:
    """VHS, VLAS and the axes from normalised landmarks of a ``width`` x ``height`` image.

    Raises ``ValueError`` when the vertebral reference has no length (nothing to count in).
    """
    px = to_pixels(points, width, height)
    unit = distance(px["Vertebra A"], px["Vertebra B"]) / VERTEBRAE_SPANNED
    if unit <= 0:
        raise ValueError("Vertebra A and Vertebra B coincide: no vertebral unit")
    long_axis = distance(px["heart_top"], px["heart_bottom"]) / unit
    short_axis = distance(px["heart_right"], px["heart_left"]) / unit
    return Measurement(
        vhs=round(long_axis + short_axis, 1),
        vlas=round(distance(px["heart_top"], px["VLAS"]) / unit, 1),
        long_axis_vertebrae=long_axis,
        short_axis_vertebrae=short_axis,
        vertebral_unit_px=unit,
        axes_angle_deg=angle_between_deg(
            (px["heart_top"], px["heart_bottom"]), (px["heart_right"], px["heart_left"])
        ),
    )
