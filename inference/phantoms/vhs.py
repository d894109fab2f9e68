"""Lateral thoracic radiograph phantoms of dogs, with known VHS/VLAS landmarks.

Real weights for the VHS product live on a hub this platform cannot reach, so the reference
models are trained on these images.  Why they are built the way they are:

- The anatomy (``radiograph_drawing``) is laid out in vertebral units: thirteen thoracic
  vertebrae with discs on a gently bent column, ribs, sternebrae, the trachea ending at the
  carina, an egg-shaped cardiac silhouette of chosen size and tilt with a left-atrial bulge at
  its caudodorsal aspect, the caudal vena cava, aorta, diaphragm and lung fields.
- The heart is sized from the requested VHS (long + short axis = VHS vertebral units, the
  unit measured on the drawn T4-T9 span) and the VLAS point placed at VLAS units from the
  carina, so ``geometry.measure`` on the truth gives exactly the requested values.
- Everything else is nuisance independent of the measurement: image size and aspect, scale,
  rotation (+/- 15 deg), translation, tight crops that push the VLAS point or vertebrae out of
  the frame (their normalised coordinates then leave 0..1, and the truth says so), exposure,
  gamma, blur, noise, collimation bands and an "L"/"R" marker.
- Some dogs (``ATRIAL_INFILTRATE_CHANCE``) have a perihilar infiltrate over the left atrium,
  as cardiogenic pulmonary oedema gives: the atrial border is lost, so VHS is measurable but
  VLAS is not, and the truth says ``vlas_visible: false`` (the API's result code 4).  It is
  drawn from its own generator, so adding it changed no other phantom.
- A ``numpy.random.Generator`` seeded from the seed only; a requested VHS/VLAS replaces the
  drawn one without shifting the stream, so one seed is the same dog and framing at any score.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from inference.phantoms.negative_images import NEGATIVE_KINDS, draw_negative
from inference.phantoms.radiograph_drawing import (
    CERVICAL_SHOWN,
    LUMBAR_SHOWN,
    THORACIC,
    Anatomy,
    Canvas,
    egg_outline,
    render_attenuation,
    spine_boundaries,
)
from inference.products.vhs.analysis import VHS_LANDMARKS, inside
from inference.products.vhs.geometry import LANDMARKS, measure

__all__ = [
    "DATASET_STRIDE",
    "LANDMARKS",
    "NEGATIVE_KINDS",
    "RadiographPhantom",
    "draw_dataset",
    "draw_negative",
    "draw_negatives",
    "draw_radiograph",
]

# draw_dataset gives image i of dataset `seed` the phantom seed `seed * DATASET_STRIDE + i`.
DATASET_STRIDE = 1_000_000
SIZE_RANGE = (384, 768)
VHS_RANGE = (8.0, 13.5)
VLAS_RANGE = (1.2, 3.2)
MAX_ROTATION_DEG = 15.0
TIGHT_CROP_CHANCE = 0.3
ATRIAL_INFILTRATE_CHANCE = 0.2
ATRIAL_INFILTRATE_RADIUS = (1.0, 1.5)  # vertebral units


@dataclass(frozen=True)
class RadiographPhantom:
    """One drawn radiograph: the image and its JSON-safe ground truth."""

    image: Image.Image
    truth: dict[str, Any]


@dataclass(frozen=True)
class _View:
    size: tuple[int, int]
    center: tuple[float, float]
    unit_px: float
    rotation_deg: float
    tight_crop: bool


def draw_radiograph(
    seed: int,
    vhs: float | None = None,
    vlas: float | None = None,
    size: tuple[int, int] | None = None,
    crop: bool = True,
    mode: str = "L",
    max_side: int | None = None,
    atrial_infiltrate: bool | None = None,
) -> RadiographPhantom:
    """One lateral thoracic radiograph; the same arguments always give identical pixels.

    ``vhs``/``vlas`` None draw them from a population of normal and enlarged hearts; given,
    the heart is sized so the truth measures exactly that (to 0.1).  ``crop=False`` never
    crops tightly and zooms out if needed so every landmark stays in the frame; ``mode`` is
    "L" or "RGB".
    ``max_side`` shrinks the drawn size keeping its aspect (cheap training images that the
    network will downsample anyway); the dog, framing and truth stay the same.
    ``atrial_infiltrate`` True/False forces or forbids the infiltrate that hides the left
    atrium (VLAS not measurable); None draws it with ``ATRIAL_INFILTRATE_CHANCE``.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
    rng = np.random.default_rng([seed, 2])
    drawn_vhs, drawn_vlas = _sample_scores(rng)
    vhs = drawn_vhs if vhs is None else _checked("vhs", vhs, VHS_RANGE)
    vlas = drawn_vlas if vlas is None else _checked("vlas", vlas, VLAS_RANGE)
    anatomy, points = _build_anatomy(rng, vhs, vlas)
    infiltrate_rng = np.random.default_rng([seed, 5])
    radius = float(infiltrate_rng.uniform(*ATRIAL_INFILTRATE_RADIUS))
    if atrial_infiltrate is None:
        atrial_infiltrate = bool(infiltrate_rng.random() < ATRIAL_INFILTRATE_CHANCE)
    if atrial_infiltrate:
        anatomy = dataclasses.replace(anatomy, atrial_infiltrate=radius)
    view = _sample_view(rng, anatomy, size, crop)
    if not crop:
        view = _fitted(view, points)
    if max_side is not None and max(view.size) > max_side:
        view = _shrunk(view, max_side / max(view.size))
    canvas = Canvas(view.size[0], view.size[1], _affine(view), view.unit_px)
    exposure = _sample_exposure(rng)
    pixels = _expose(render_attenuation(canvas, anatomy, rng), exposure, view, rng)
    image = Image.fromarray(pixels, "L")
    truth = _truth(seed, view, canvas, points, exposure, atrial_infiltrate)
    return RadiographPhantom(image=image.convert(mode) if mode != "L" else image, truth=truth)


def draw_dataset(
    n: int, seed: int, crop: bool = True, max_side: int | None = None
) -> Iterator[RadiographPhantom]:
    """``n`` radiographs; phantom ``i`` uses seed ``seed * DATASET_STRIDE + i``."""
    if n > DATASET_STRIDE:
        raise ValueError(f"at most {DATASET_STRIDE} phantoms per dataset")
    for index in range(n):
        yield draw_radiograph(seed * DATASET_STRIDE + index, crop=crop, max_side=max_side)


def draw_negatives(
    n: int, seed: int, max_side: int | None = None
) -> Iterator[tuple[Image.Image, str]]:
    """``n`` non-radiographs from the same seed blocks as ``draw_dataset``."""
    for index in range(n):
        yield draw_negative(seed * DATASET_STRIDE + index, max_side=max_side)


# --- sampling -------------------------------------------------------------------------------


def _checked(name: str, value: float, bounds: tuple[float, float]) -> float:
    if not bounds[0] - 1e-9 <= value <= bounds[1] + 1e-9:
        raise ValueError(f"{name} must lie in {bounds[0]}..{bounds[1]}, got {value}")
    return float(value)


def _sample_scores(rng: np.random.Generator) -> tuple[float, float]:
    """Two thirds normal hearts (9.7 +/- 0.5), one third enlarged; VLAS follows the heart."""
    if rng.random() < 0.65:
        vhs = rng.normal(9.7, 0.5)
    else:
        vhs = rng.uniform(10.5, 13.5)
    vlas = 1.8 + 0.35 * (vhs - 9.7) + rng.normal(0.0, 0.25)
    return float(np.clip(vhs, *VHS_RANGE)), float(np.clip(vlas, *VLAS_RANGE))


def _build_anatomy(
    rng: np.random.Generator, vhs: float, vlas: float
) -> tuple[Anatomy, dict[str, np.ndarray]]:
    count = CERVICAL_SHOWN + THORACIC + LUMBAR_SHOWN
    lengths = np.clip(1.0 + rng.normal(0.0, 0.025, count), 0.93, 1.07)
    boundaries = spine_boundaries(
        lengths, np.zeros(2), rng.normal(0.0, 0.04), rng.uniform(-0.02, 0.03)
    )
    boundaries -= boundaries[CERVICAL_SHOWN + 3]  # T4's cranial edge at the origin
    vertebra_a, vertebra_b = boundaries[CERVICAL_SHOWN + 3], boundaries[CERVICAL_SHOWN + 9]
    unit = float(np.linalg.norm(vertebra_b - vertebra_a)) / 6
    body_height = rng.uniform(0.5, 0.62)
    carina_x = rng.uniform(0.8, 2.0)
    spine_at_carina = float(np.interp(carina_x, boundaries[:, 0], boundaries[:, 1]))
    carina = np.array([carina_x, spine_at_carina + body_height / 2 + rng.uniform(1.1, 1.6)])
    tilt = rng.uniform(0.3, 0.7)
    axis = np.array([math.sin(tilt), math.cos(tilt)])
    ratio = rng.uniform(0.72, 0.9)
    long_axis = vhs * unit / (1 + ratio)
    upper = long_axis * rng.uniform(0.42, 0.5)
    outline, middle, cranial = egg_outline(
        carina, axis, upper, long_axis - upper, long_axis * ratio / 2
    )
    vlas_point, la_center, la_axes, la_angle = _left_atrium(
        outline, carina, vlas * unit, long_axis * rng.uniform(0.3, 0.36), rng
    )
    bottom = carina + axis * long_axis
    sternum_y = max(bottom[1] + rng.uniform(0.15, 0.6), carina[1] + 5.0)
    heart_points = np.vstack([outline, vlas_point[None]])
    anatomy = Anatomy(
        boundaries=boundaries,
        body_height=body_height,
        carina=carina,
        heart_outline=outline,
        la_center=la_center,
        la_axes=la_axes,
        la_angle=la_angle,
        vlas_point=vlas_point,
        cvc_direction=np.array([math.cos(a := rng.uniform(0.05, 0.35)), math.sin(a)]),
        sternum_y=sternum_y,
        diaphragm=_diaphragm(heart_points, float(boundaries[:, 1].min()), sternum_y, rng),
        back_y=float(boundaries[:, 1].min()) - rng.uniform(2.8, 3.6),
        belly_y=sternum_y + rng.uniform(0.6, 1.3),
        texture_seed=int(rng.integers(2**31)),
    )
    half_width = long_axis * ratio / 2
    points = {
        "heart_top": carina,
        "heart_bottom": bottom,
        "heart_right": middle + cranial * half_width,
        "heart_left": middle - cranial * half_width,
        "VLAS": vlas_point,
        "Vertebra A": vertebra_a,
        "Vertebra B": vertebra_b,
    }
    return anatomy, points


def _left_atrium(
    outline: np.ndarray,
    carina: np.ndarray,
    distance: float,
    nominal: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float], float]:
    """The VLAS point ``distance`` from the carina, and the atrial bulge ending there.

    A normal atrium ends on the caudal heart border ``nominal`` from the carina; a larger
    VLAS pushes the point outwards (the bulge of an enlarged atrium), a smaller one picks a
    border point nearer the carina.
    """
    caudal = outline[: len(outline) // 2]
    reach = np.linalg.norm(caudal - carina, axis=1)
    index = int(np.clip(np.searchsorted(reach, min(distance, nominal)), 1, len(caudal) - 2))
    border = caudal[index]
    tangent = caudal[index + 1] - caudal[index - 1]
    normal = np.array([tangent[1], -tangent[0]]) / np.linalg.norm(tangent)
    offset = border - carina
    along = float(offset @ normal)
    outward = -along + math.sqrt(max(along**2 - float(offset @ offset) + distance**2, 0.0))
    point = border + normal * outward
    point = carina + (point - carina) * (distance / np.linalg.norm(point - carina))
    radius_normal = 0.45 + outward / 2 + rng.uniform(0.0, 0.15)
    axes = (radius_normal, 0.55 + 0.3 * outward + rng.uniform(0.0, 0.2))
    return point, point - normal * radius_normal, axes, math.atan2(normal[1], normal[0])


def _diaphragm(
    heart: np.ndarray, spine_y: float, sternum_y: float, rng: np.random.Generator
) -> np.ndarray:
    """A dome bulging cranially, clear of the heart; dorsal to ventral."""
    dome_y = spine_y + (sternum_y - spine_y) * rng.uniform(0.45, 0.6)
    k_dorsal = rng.uniform(2.5, 4.0) / (dome_y - spine_y) ** 2
    k_ventral = rng.uniform(1.0, 2.0) / (sternum_y - dome_y) ** 2

    def bulge(y: np.ndarray) -> np.ndarray:
        return np.where(y < dome_y, k_dorsal, k_ventral) * (y - dome_y) ** 2

    dome_x = float(np.max(heart[:, 0] + 0.5 - bulge(heart[:, 1]))) + rng.uniform(0.0, 1.0)
    ys = np.linspace(spine_y + 0.5, sternum_y + 0.3, 24)
    return np.stack([dome_x + bulge(ys), ys], axis=1)


def _sample_view(
    rng: np.random.Generator, anatomy: Anatomy, size: tuple[int, int] | None, crop: bool
) -> _View:
    width = int(rng.integers(SIZE_RANGE[0], SIZE_RANGE[1] + 1))
    aspect = rng.uniform(0.8, 1.5)
    height = int(np.clip(round(width / aspect), *SIZE_RANGE))
    if size is not None:
        width, height = int(size[0]), int(size[1])
    if width < 64 or height < 64:
        raise ValueError(f"size must be at least 64 x 64 pixels, got {width} x {height}")
    rotation = rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG)
    tight = rng.random() < TIGHT_CROP_CHANCE
    heart = anatomy.heart_outline.mean(axis=0)
    if crop and tight:
        span = rng.uniform(8.0, 11.0)
        center = heart + rng.normal(0.0, 1.3, 2)
        unit_px = max(width, height) / span
    else:
        tight = False
        center = np.array([3.4, 3.8]) + rng.normal(0.0, 0.6, 2)
        unit_px = min(width / rng.uniform(12.0, 15.5), height / rng.uniform(9.5, 12.0))
    return _View((width, height), (float(center[0]), float(center[1])), unit_px, rotation, tight)


def _fitted(view: _View, points: dict[str, np.ndarray], margin: float = 0.97) -> _View:
    """Zoom out (about the image centre) until every landmark lies inside the frame.

    Only ``crop=False`` asks for this: a wide, rotated frame can otherwise clip a vertebra.
    """
    angle = math.radians(view.rotation_deg)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    offsets = (np.stack(list(points.values())) - np.array(view.center)) @ rotation.T
    half = np.array(view.size, np.float64) / 2 * margin
    overshoot = float(np.max(np.abs(offsets) * view.unit_px / half))
    if overshoot <= 1.0:
        return view
    return _View(view.size, view.center, view.unit_px / overshoot, view.rotation_deg, False)


def _shrunk(view: _View, factor: float) -> _View:
    size = (max(64, round(view.size[0] * factor)), max(64, round(view.size[1] * factor)))
    unit_px = view.unit_px * size[0] / view.size[0]
    return _View(size, view.center, unit_px, view.rotation_deg, view.tight_crop)


def _affine(view: _View) -> np.ndarray:
    """Canonical units -> continuous pixel coordinates (the image spans [0, w] x [0, h])."""
    angle = math.radians(view.rotation_deg)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    linear = view.unit_px * rotation
    shift = np.array(view.size, np.float64) / 2 - linear @ np.array(view.center)
    return np.hstack([linear, shift[:, None]])


def _sample_exposure(rng: np.random.Generator) -> dict[str, Any]:
    bands = {
        side: (float(rng.uniform(0.02, 0.08)) if rng.random() < 0.25 else 0.0)
        for side in ("left", "right", "top", "bottom")
    }
    return {
        "black": float(rng.uniform(-0.15, 0.2)),
        "white": float(rng.uniform(1.9, 2.7)),
        "gamma": float(rng.uniform(0.6, 1.5)),
        "blur": float(rng.uniform(0.0, 1.2)),
        "noise": float(rng.uniform(0.004, 0.04)),
        "collimation": bands,
        "collimation_white": bool(rng.random() < 0.3),
        "marker": str(rng.choice(["L", "R", ""], p=[0.35, 0.35, 0.3])),
        "marker_corner": int(rng.integers(4)),
    }


def _expose(
    attenuation: np.ndarray, exposure: dict[str, Any], view: _View, rng: np.random.Generator
) -> np.ndarray:
    """Attenuation -> an 8-bit film: window, gamma, blur, noise, collimation and a marker."""
    span = exposure["white"] - exposure["black"]
    values = np.clip((attenuation - exposure["black"]) / span, 0.0, 1.0) ** exposure["gamma"]
    scale = min(view.size) / 512
    if exposure["blur"] * scale > 0.3:
        values = cv2.GaussianBlur(values, (0, 0), exposure["blur"] * scale)
    values = values + rng.normal(0.0, exposure["noise"], values.shape).astype(np.float32)
    width, height = view.size
    fill = 0.93 if exposure["collimation_white"] else 0.03
    bands = exposure["collimation"]
    values[:, : round(bands["left"] * width)] = fill
    values[:, width - round(bands["right"] * width) :] = fill
    values[: round(bands["top"] * height)] = fill
    values[height - round(bands["bottom"] * height) :] = fill
    pixels = np.clip(values * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if exposure["marker"]:
        _marker(pixels, exposure["marker"], exposure["marker_corner"])
    return pixels


def _marker(pixels: np.ndarray, letter: str, corner: int) -> None:
    """A lead positioning marker: a bright letter in a box near one corner."""
    height, width = pixels.shape
    box = max(16, round(min(width, height) * 0.07))
    x = round(width * 0.06) if corner % 2 == 0 else width - round(width * 0.06) - box
    y = round(height * 0.06) if corner < 2 else height - round(height * 0.06) - box
    cv2.rectangle(pixels, (x, y), (x + box, y + box), 235, max(1, box // 12))
    scale = box / 30
    cv2.putText(
        pixels,
        letter,
        (x + box // 5, y + 4 * box // 5),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        245,
        max(1, box // 10),
        cv2.LINE_AA,
    )


def _truth(
    seed: int,
    view: _View,
    canvas: Canvas,
    points: dict[str, np.ndarray],
    exposure: dict[str, Any],
    atrial_infiltrate: bool,
) -> dict[str, Any]:
    width, height = view.size
    landmarks = {}
    for name in LANDMARKS:
        x, y = canvas.to_pixels(points[name])[0]
        landmarks[name] = [round(float(x) / width, 6), round(float(y) / height, 6)]
    measurement = measure({k: tuple(v) for k, v in landmarks.items()}, width, height)
    # What a perfect model could place: in the frame, and an atrium not hidden.
    visible = {name: inside(landmarks[name]) for name in LANDMARKS}
    visible["VLAS"] = visible["VLAS"] and not atrial_infiltrate
    vhs_visible = all(visible[name] for name in VHS_LANDMARKS)
    return {
        "seed": seed,
        "size": [width, height],
        "landmarks": landmarks,
        "vhs": measurement.vhs,
        "vlas": measurement.vlas,
        "vhs_visible": vhs_visible,
        "vlas_visible": vhs_visible and visible["VLAS"],
        "visible": visible,
        "atrial_infiltrate": atrial_infiltrate,
        "vertebral_unit_px": round(measurement.vertebral_unit_px, 3),
        "rotation_deg": round(view.rotation_deg, 3),
        "tight_crop": view.tight_crop,
        "exposure": exposure,
    }
