"""Anatomy and rendering for the lateral thoracic radiograph phantoms (``inference.phantoms.vhs``).

The dog is laid out in a *canonical* frame whose length unit is one vertebra (body plus disc):
``x`` runs caudally (the head is on the left, as lateral views are displayed) and ``y``
ventrally.  Every structure is a polygon or polyline in that frame; one affine map (scale,
rotation, translation, crop) takes them to output pixels, and the same map takes the
landmarks, so the ground truth is exact by construction and ``geometry.measure`` on it gives
the drawn heart's VHS and VLAS (a similarity transform keeps every length ratio).

The picture is an attenuation map (soft tissue, air in lungs and trachea, bone), blurred
per tissue for soft edges, then exposed: that is what makes bones bright on dark lungs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

_SUBPIXEL_BITS = 3
_SUBPIXEL = 1 << _SUBPIXEL_BITS
CERVICAL_SHOWN = 3  # C5-C7 before T1
LUMBAR_SHOWN = 3  # L1-L3 after T13
THORACIC = 13


@dataclass(frozen=True)
class Anatomy:
    """One dog in canonical units (1 = one vertebra); points are ``(x, y)`` arrays."""

    boundaries: np.ndarray  # [C+13+L+1, 2] vertebral boundaries on the body midline
    body_height: float
    carina: np.ndarray
    heart_outline: np.ndarray  # [N, 2] closed egg outline
    la_center: np.ndarray
    la_axes: tuple[float, float]
    la_angle: float
    vlas_point: np.ndarray
    cvc_direction: np.ndarray
    sternum_y: float
    diaphragm: np.ndarray  # [M, 2] polyline, dorsal to ventral
    back_y: float
    belly_y: float
    texture_seed: int
    # A perihilar infiltrate over the left atrium (radius in units; 0: none).  Fluid fills
    # the air spaces there, so the atrium's caudal border no longer contrasts with the lung.
    atrial_infiltrate: float = 0.0


def spine_boundaries(
    lengths: np.ndarray, start: np.ndarray, angle: float, bend: float
) -> np.ndarray:
    """Vertebral boundaries along a gently bent line: ``bend`` radians per vertebra."""
    points = [start.astype(np.float64)]
    heading = angle
    for length in lengths:
        heading += bend
        step = np.array([math.cos(heading), math.sin(heading)]) * length
        points.append(points[-1] + step)
    return np.stack(points)


def egg_outline(
    top: np.ndarray, axis: np.ndarray, upper: float, lower: float, half_width: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A closed egg: two half ellipses sharing the widest line, ``upper`` below ``top``.

    A real cardiac silhouette is widest above its middle; two half ellipses give that shape
    while keeping the long axis (``upper + lower``) and the widest short axis exact.  Returns
    the outline ``[N, 2]`` (from the top down the caudal side to the apex and back up the
    cranial side), the widest line's centre and the unit vector pointing cranially.
    """
    cranial = np.array([-axis[1], axis[0]])
    middle = top + axis * upper
    phi = np.linspace(0.0, math.pi / 2, 60)
    caudal_top = middle[None] - np.outer(np.cos(phi), axis) * upper
    caudal_top -= np.outer(np.sin(phi), cranial) * half_width
    caudal_bottom = middle[None] + np.outer(np.sin(phi[1:]), axis) * lower
    caudal_bottom -= np.outer(np.cos(phi[1:]), cranial) * half_width
    caudal = np.concatenate([caudal_top, caudal_bottom])
    relative = caudal - middle[None]
    mirrored = (
        middle[None] + np.outer(relative @ axis, axis) - np.outer(relative @ cranial, cranial)
    )
    outline = np.concatenate([caudal, mirrored[::-1][1:-1]])
    return outline, middle, cranial


# --- rendering ------------------------------------------------------------------------------


class Canvas:
    """Masks in output pixels for canonical polygons, through one 2x3 affine map."""

    def __init__(self, width: int, height: int, affine: np.ndarray, unit_px: float) -> None:
        self.width, self.height, self.affine, self.unit_px = width, height, affine, unit_px

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        points = np.atleast_2d(points)
        return points @ self.affine[:, :2].T + self.affine[:, 2]

    def _fixed(self, points: np.ndarray) -> np.ndarray:
        # Continuous image coordinates span [0, w]; OpenCV puts pixel centres on integers.
        return np.round((self.to_pixels(points) - 0.5) * _SUBPIXEL).astype(np.int32)

    def blank(self) -> np.ndarray:
        return np.zeros((self.height, self.width), np.uint8)

    def polygon(self, mask: np.ndarray, points: np.ndarray, value: int = 255) -> None:
        cv2.fillPoly(mask, [self._fixed(points)], value, cv2.LINE_AA, _SUBPIXEL_BITS)

    def polyline(
        self, mask: np.ndarray, points: np.ndarray, width: float, value: int = 255
    ) -> None:
        thickness = max(1, round(width * self.unit_px))
        cv2.polylines(
            mask, [self._fixed(points)], False, value, thickness, cv2.LINE_AA, _SUBPIXEL_BITS
        )

    def ellipse(
        self, mask: np.ndarray, center: np.ndarray, axes: tuple[float, float], angle: float
    ) -> None:
        theta = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        local = np.stack([axes[0] * np.cos(theta), axes[1] * np.sin(theta)], axis=1)
        rotation = np.array(
            [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
        )
        self.polygon(mask, center[None] + local @ rotation.T)

    def soft(self, mask: np.ndarray, sigma_units: float) -> np.ndarray:
        values = mask.astype(np.float32) / 255.0
        sigma = sigma_units * self.unit_px
        return cv2.GaussianBlur(values, (0, 0), sigma) if sigma > 0.3 else values


def _spine_normal(boundaries: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
    tangent = boundaries[index + 1] - boundaries[index]
    tangent = tangent / np.linalg.norm(tangent)
    return tangent, np.array([-tangent[1], tangent[0]])  # (caudal, ventral)


def _spine_y(anatomy: Anatomy, x: float) -> float:
    return float(np.interp(x, anatomy.boundaries[:, 0], anatomy.boundaries[:, 1]))


def _bones(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """Vertebrae (bodies, end plates, spinous processes), ribs and sternebrae."""
    bodies, cortex, processes, ribs = canvas.blank(), canvas.blank(), canvas.blank(), canvas.blank()
    half = anatomy.body_height / 2
    count = len(anatomy.boundaries) - 1
    for index in range(count):
        start, end = anatomy.boundaries[index], anatomy.boundaries[index + 1]
        tangent, ventral = _spine_normal(anatomy.boundaries, index)
        body_end = start + (end - start) * 0.86
        corners = np.stack(
            [
                start - ventral * half,
                body_end - ventral * half,
                body_end + ventral * half,
                start + ventral * half,
            ]
        )
        canvas.polygon(bodies, corners)
        canvas.polyline(cortex, np.vstack([corners, corners[:1]]), 0.06)
        thoracic = index - CERVICAL_SHOWN
        spine_length = 2.6 - 0.13 * thoracic if 0 <= thoracic < THORACIC else 0.9
        base = (start + body_end) / 2 - ventral * half
        tip = base - ventral * spine_length + tangent * (0.5 + 0.06 * max(thoracic, 0))
        canvas.polyline(processes, np.stack([base, tip]), 0.22)
        if 0 <= thoracic < THORACIC:
            _rib(canvas, ribs, anatomy, start + ventral * half * 0.6, thoracic, rng)
    sternum = canvas.blank()
    for k in range(8):
        x = -3.2 + k * 1.05
        canvas.ellipse(sternum, np.array([x, anatomy.sternum_y]), (0.42, 0.2), 0.04)
    return (
        0.95 * canvas.soft(bodies, 0.05)
        + 0.35 * canvas.soft(cortex, 0.03)
        + 0.55 * canvas.soft(processes, 0.05)
        + 0.42 * canvas.soft(ribs, 0.04)
        + 0.7 * canvas.soft(sternum, 0.05)
    )


def _rib(
    canvas: Canvas,
    mask: np.ndarray,
    anatomy: Anatomy,
    head: np.ndarray,
    index: int,
    rng: np.random.Generator,
) -> None:
    """A rib pair (left and right, slightly offset) as quadratic curves to the sternum."""
    if index < 9:
        end = np.array([-3.4 + index * 0.95, anatomy.sternum_y - 0.1])
    else:
        end = np.array(
            [head[0] + 1.5 + 0.5 * (index - 9), anatomy.sternum_y - 1.2 - 0.9 * (index - 9)]
        )
    control = np.array([head[0] + 1.6 + 0.12 * index, (head[1] + end[1]) * 0.55])
    t = np.linspace(0, 1, 24)[:, None]
    for offset in (0.0, rng.uniform(0.15, 0.45)):
        shift = np.array([offset, 0.1 * offset])
        curve = (1 - t) ** 2 * head + 2 * (1 - t) * t * (control + shift) + t**2 * (end + shift)
        canvas.polyline(mask, curve, 0.17)


def _soft_tissues(canvas: Canvas, anatomy: Anatomy) -> tuple[np.ndarray, np.ndarray]:
    """Body soft tissue and the lung field (air) masks."""
    body, lung = canvas.blank(), canvas.blank()
    xs = np.linspace(-40.0, 50.0, 60)
    top = [(x, anatomy.back_y + 0.01 * (x - 3) ** 2) for x in xs]
    bottom = [(x, anatomy.belly_y - 0.004 * (x - 3) ** 2) for x in xs[::-1]]
    canvas.polygon(body, np.array(top + bottom))
    dorsal = [
        (x, _spine_y(anatomy, x) + anatomy.body_height * 0.65) for x in np.linspace(-2.6, 14, 30)
    ]
    diaphragm = anatomy.diaphragm
    cranial = [
        (-3.4 + 0.5 * math.sin(math.pi * s), anatomy.sternum_y * s) for s in np.linspace(1, 0, 12)
    ]
    lung_points = [p for p in dorsal if p[0] < diaphragm[0][0]] + list(map(tuple, diaphragm))
    lung_points += [(-3.0, anatomy.sternum_y - 0.35), *cranial]
    canvas.polygon(lung, np.array(lung_points))
    return canvas.soft(body, 0.25), canvas.soft(lung, 0.2)


def _mediastinum(canvas: Canvas, anatomy: Anatomy) -> tuple[np.ndarray, np.ndarray]:
    """The heart (with the left atrium), aorta and caudal vena cava; and the airways."""
    heart, vessels, airway = canvas.blank(), canvas.blank(), canvas.blank()
    canvas.polygon(heart, anatomy.heart_outline)
    canvas.ellipse(heart, anatomy.la_center, anatomy.la_axes, anatomy.la_angle)
    cvc_end = anatomy.vlas_point + anatomy.cvc_direction * 6.0
    canvas.polyline(vessels, np.stack([anatomy.vlas_point, cvc_end]), 0.5)
    carina = anatomy.carina
    aorta_y = _spine_y(anatomy, carina[0] + 1.5) + anatomy.body_height + 0.35
    aorta = np.array(
        [
            carina + np.array([0.3, 0.9]),
            carina + np.array([0.6, -0.3]),
            [carina[0] + 1.4, aorta_y],
            [carina[0] + 14, aorta_y + 0.4],
        ]
    )
    canvas.polyline(vessels, aorta, 0.55)
    neck = np.array([carina[0] - 9.0, _spine_y(anatomy, carina[0] - 9) + anatomy.body_height + 0.4])
    canvas.polyline(airway, np.stack([neck, carina - np.array([0.15, 0.1])]), 0.52)
    canvas.polyline(airway, np.stack([carina - np.array([0.4, 0.15]), carina]), 0.4)
    for direction in ((1.0, -0.35), (0.85, 0.55)):
        canvas.polyline(airway, np.stack([carina, carina + np.array(direction) * 1.1]), 0.26)
    return canvas.soft(heart, 0.12) + 0.6 * canvas.soft(vessels, 0.12), canvas.soft(airway, 0.08)


def _lung_texture(canvas: Canvas, anatomy: Anatomy) -> np.ndarray:
    """Faint pulmonary vessels branching from the hilus, plus smooth mottling."""
    rng = np.random.default_rng(anatomy.texture_seed)
    mask = canvas.blank()
    for _ in range(18):
        angle = rng.uniform(-0.4 * math.pi, 1.4 * math.pi)
        start = anatomy.carina + rng.normal(0, 0.4, 2)
        length = rng.uniform(2.0, 6.0)
        steps = np.linspace(0, length, 8)[:, None]
        bend = np.cumsum(rng.normal(0, 0.12, 8))[:, None]
        direction = np.concatenate([np.cos(angle + bend), np.sin(angle + bend)], axis=1)
        canvas.polyline(mask, start + direction * steps, 0.12)
    grid = rng.standard_normal((8, 8)).astype(np.float32)
    mottle = cv2.resize(grid, (canvas.width, canvas.height), interpolation=cv2.INTER_CUBIC)
    return 0.5 * canvas.soft(mask, 0.08) + 0.15 * mottle


def _infiltrate(canvas: Canvas, anatomy: Anatomy) -> np.ndarray:
    """0..1 where fluid replaces lung air around the left atrium (all 0 without one).

    Centred a little caudodorsal of the VLAS point, away from the carina, so the atrial
    border vanishes while the carina and the rest of the heart stay visible.
    """
    if anatomy.atrial_infiltrate <= 0.0:
        return np.zeros((canvas.height, canvas.width), np.float32)
    away = anatomy.vlas_point - anatomy.carina
    center = anatomy.vlas_point + 0.35 * away / np.linalg.norm(away)
    radius = anatomy.atrial_infiltrate
    mask = canvas.blank()
    canvas.ellipse(mask, center, (radius, radius * 0.85), math.atan2(away[1], away[0]))
    rng = np.random.default_rng(anatomy.texture_seed + 1)
    grid = rng.uniform(0.8, 1.0, (6, 6)).astype(np.float32)
    mottle = cv2.resize(grid, (canvas.width, canvas.height), interpolation=cv2.INTER_CUBIC)
    return np.clip(canvas.soft(mask, 0.3 * radius) * 1.15, 0.0, 1.0) * mottle


def render_attenuation(canvas: Canvas, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """The projected attenuation of the whole dog, float32 in roughly [0, 3]."""
    body, lung = _soft_tissues(canvas, anatomy)
    mediastinum, airway = _mediastinum(canvas, anatomy)
    texture = _lung_texture(canvas, anatomy)
    infiltrate = _infiltrate(canvas, anatomy)
    lung_air = lung * (1.0 - np.clip(mediastinum, 0.0, 1.0)) * (1.0 - infiltrate)
    attenuation = 1.0 * body - 0.62 * lung_air + 0.12 * texture * lung - 0.3 * airway * body
    attenuation += 0.12 * np.maximum(mediastinum, infiltrate) * body
    return attenuation + _bones(canvas, anatomy, rng)
