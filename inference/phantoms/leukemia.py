"""Blood-smear phantoms for the leukemia product: one white cell per image, its class known.

Real weights for the leukemia classifier live on a hub this platform cannot reach, so the
reference models are trained on these images instead.  The four classes follow the B-lineage
stages of the public "ALL" blood-smear dataset: Benign (normal/hematogone-like lymphocytes),
Early (early pre-B), Pre (pre-B) and Pro (pro-B) lymphoblasts.

Why the images are built the way they are:

- Every cell draws a latent maturation stage ``t = class stage + N(0, STAGE_SPREAD)`` and every
  morphological feature (cell size, nucleus-to-cytoplasm ratio, nucleus irregularity, chromatin
  texture, cytoplasm basophilia, nucleolus prominence) follows ``t`` plus its own noise.
  Neighbouring classes therefore overlap by construction: no classifier can be perfect, so a
  reference model's held-out accuracy says something (the ceiling is roughly 96-98%).
- Everything else varies independently of the class: stain hue/saturation/brightness,
  magnification, red cells behind the cell, a neighbouring cell cut by the frame, blur, noise,
  JPEG compression, illumination and the cell's offset from the centre.  A model cannot read
  the class off one pixel statistic.
- Drawing uses a ``numpy.random.Generator`` seeded from the arguments only (never the global
  RNG), so the same arguments always give the same pixels, and the scalar morphology is drawn
  before any size-dependent array, so one seed is the same cell at every ``size``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

# The classes are the product's (one definition); re-exported for the generator's users.
from inference.products.leukemia.labels import CLASSES, DESCRIPTIONS

__all__ = ["CLASSES", "DESCRIPTIONS", "CellPhantom", "draw_cell", "draw_dataset"]


# Spread of the latent maturation stage around each class's anchor (0, 1, 2, 3); it sets how
# much adjacent classes overlap, hence the best accuracy any model can reach.
STAGE_SPREAD = 0.25
_STAGES = (0.0, 1.0, 2.0, 3.0)

# draw_dataset gives image i of dataset `seed` the cell seed `seed * DATASET_STRIDE + i`, so two
# datasets with different seeds never share an image.
DATASET_STRIDE = 1_000_000

# Lengths below are in pixels of a REFERENCE_SIZE image at magnification 1.
REFERENCE_SIZE = 128
_SUBPIXEL_BITS = 4
_SUBPIXEL = 1 << _SUBPIXEL_BITS

# Canonical (pre-stain) colours, RGB in [0, 1].
_PLASMA = np.array([0.93, 0.88, 0.90], np.float32)
_RED_CELL = np.array([0.89, 0.60, 0.65], np.float32)
_PALLOR = np.array([0.94, 0.82, 0.84], np.float32)
_CYTOPLASM_PALE = np.array([0.80, 0.80, 0.92], np.float32)
_CYTOPLASM_BLUE = np.array([0.50, 0.58, 0.86], np.float32)
_CHROMATIN_LIGHT = np.array([0.70, 0.56, 0.80], np.float32)
_CHROMATIN_DARK = np.array([0.20, 0.07, 0.33], np.float32)
_NUCLEOLUS = np.array([0.62, 0.58, 0.86], np.float32)
_VACUOLE = np.array([0.96, 0.94, 0.98], np.float32)
_GRANULAR_CYTOPLASM = np.array([0.86, 0.74, 0.84], np.float32)


@dataclass(frozen=True)
class CellPhantom:
    """One drawn cell: the RGB image and its JSON-safe ground truth."""

    image: Image.Image
    truth: dict[str, Any]


@dataclass(frozen=True)
class _Morphology:
    """The class-dependent description of one cell, before it is drawn."""

    stage: float
    cell_radius: float
    nucleus_ratio: float  # nucleus radius / cell radius, before shape irregularity
    irregularity: float  # amplitude of the nucleus outline's low harmonics
    clefts: tuple[tuple[float, float, float], ...]  # (angle, depth, width) notches
    chromatin_darkness: float
    fine_texture: float  # open, fine-grained chromatin
    coarse_texture: float  # clumped chromatin
    cytoplasm_blue: float  # 0 pale, 1 strongly basophilic
    n_nucleoli: int
    nucleolus_alpha: float
    n_vacuoles: int


@dataclass(frozen=True)
class _Nuisance:
    """Everything that varies independently of the class."""

    magnification: float
    offset: tuple[float, float]
    orientation: float
    red_cells: tuple[tuple[float, float, float, float, float], ...]  # x, y, radius, aspect, angle
    neighbour: tuple[str, float, float] | None  # kind, direction, distance (fraction of size)
    hue_shift: float
    saturation: float
    brightness: float
    channel_gain: tuple[float, float, float]
    blur_sigma: float
    noise_sigma: float
    jpeg_quality: int | None


def draw_cell(cell_class: str, seed: int, size: int = 128) -> CellPhantom:
    """Draw one cell of ``cell_class``; the same arguments always give identical pixels."""
    if cell_class not in CLASSES:
        raise ValueError(f"unknown cell class {cell_class!r}; expected one of {CLASSES}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    class_index = CLASSES.index(cell_class)
    rng = np.random.default_rng([seed, class_index])
    morphology = _sample_morphology(class_index, rng)
    nuisance = _sample_nuisance(cell_class, rng)
    # Pixel-grid noise has a size-dependent shape: its own stream keeps `rng` size-independent.
    texture = np.random.default_rng([seed, class_index, size])
    image, measured = _render(morphology, nuisance, size, rng, texture)
    truth = _truth(cell_class, seed, size, morphology, nuisance, measured)
    return CellPhantom(image=Image.fromarray(image, "RGB"), truth=truth)


def draw_dataset(n_per_class: int, seed: int, size: int = 128) -> Iterator[CellPhantom]:
    """``4 * n_per_class`` cells, classes interleaved; image ``i`` uses seed ``seed*STRIDE+i``."""
    total = n_per_class * len(CLASSES)
    if total > DATASET_STRIDE:
        raise ValueError(f"at most {DATASET_STRIDE // len(CLASSES)} cells per class")
    for index in range(total):
        yield draw_cell(CLASSES[index % len(CLASSES)], seed * DATASET_STRIDE + index, size)


# --- sampling -------------------------------------------------------------------------------


def _along(stage: float, values: tuple[float, float, float, float]) -> float:
    """A feature's value at a (continuous) maturation stage, between the class anchors."""
    return float(np.interp(stage, _STAGES, values))


def _jitter(rng: np.random.Generator) -> float:
    """A feature's own multiplicative noise, so features are not locked to the stage."""
    return rng.uniform(0.7, 1.3)


def _sample_morphology(class_index: int, rng: np.random.Generator) -> _Morphology:
    stage = _STAGES[class_index] + rng.normal(0.0, STAGE_SPREAD)
    return _Morphology(
        stage=stage,
        cell_radius=_along(stage, (18.0, 22.0, 26.0, 30.0)) + rng.normal(0.0, 1.5),
        nucleus_ratio=float(
            np.clip(_along(stage, (0.84, 0.80, 0.74, 0.86)) + rng.normal(0.0, 0.03), 0.6, 0.93)
        ),
        irregularity=_along(stage, (0.015, 0.04, 0.08, 0.12)) * _jitter(rng),
        clefts=_sample_clefts(class_index, stage, rng),
        chromatin_darkness=_along(stage, (0.85, 0.72, 0.64, 0.52)) + rng.normal(0.0, 0.05),
        fine_texture=_along(stage, (0.04, 0.09, 0.07, 0.13)) * _jitter(rng),
        coarse_texture=_along(stage, (0.05, 0.05, 0.17, 0.07)) * _jitter(rng),
        cytoplasm_blue=float(
            np.clip(_along(stage, (0.3, 0.45, 0.75, 0.6)) + rng.normal(0.0, 0.12), 0.0, 1.0)
        ),
        n_nucleoli=_sample_nucleolus_count(class_index, stage, rng),
        nucleolus_alpha=min(0.9, _along(stage, (0.0, 0.28, 0.5, 0.7)) * _jitter(rng)),
        n_vacuoles=_sample_vacuole_count(class_index, rng),
    )


def _sample_clefts(
    class_index: int, stage: float, rng: np.random.Generator
) -> tuple[tuple[float, float, float], ...]:
    """Indentations of the nucleus: none in Benign, one in Pre, one or two (lobulated) in Pro."""
    count = (0, int(rng.random() < 0.3), 1, 1 + int(rng.random() < 0.5))[class_index]
    depth = _along(stage, (0.0, 0.08, 0.22, 0.32))
    return tuple(
        (
            rng.uniform(0.0, 2 * math.pi),
            max(0.0, depth * rng.uniform(0.7, 1.3)),
            rng.uniform(0.25, 0.5),
        )
        for _ in range(count)
    )


def _sample_nucleolus_count(class_index: int, stage: float, rng: np.random.Generator) -> int:
    """Benign 0, Early 0-1, Pre 1-2, Pro 2-4; within a class, more with a later stage."""
    if class_index == 0:
        return 0
    if class_index == 1:
        return int(rng.random() < np.clip(0.35 + 0.5 * (stage - 1.0), 0.0, 1.0))
    if class_index == 2:
        return 1 + int(rng.random() < np.clip(0.5 + (stage - 2.0), 0.0, 1.0))
    return 2 + int(rng.binomial(2, float(np.clip(0.5 + (stage - 3.0), 0.2, 0.8))))


def _sample_vacuole_count(class_index: int, rng: np.random.Generator) -> int:
    chance = (0.0, 0.0, 0.1, 0.4)[class_index]
    return int(rng.integers(1, 5)) if rng.random() < chance else 0


def _sample_nuisance(cell_class: str, rng: np.random.Generator) -> _Nuisance:
    del cell_class  # explicitly: nothing here may depend on the class
    red_cells = tuple(
        (
            rng.uniform(-0.1, 1.1),
            rng.uniform(-0.1, 1.1),
            15.0 * rng.uniform(0.85, 1.15),
            rng.uniform(0.88, 1.12),
            rng.uniform(0.0, math.pi),
        )
        for _ in range(int(rng.integers(3, 11)))
    )
    neighbour = None
    if rng.random() < 0.35:
        kind = "neutrophil" if rng.random() < 0.5 else "lymphocyte"
        neighbour = (kind, rng.uniform(0.0, 2 * math.pi), rng.uniform(0.52, 0.64))
    blurred = rng.random() < 0.8
    compressed = rng.random() < 0.5
    return _Nuisance(
        magnification=rng.uniform(0.85, 1.15),
        offset=(
            float(np.clip(rng.normal(0.0, 3.0), -8, 8)),
            float(np.clip(rng.normal(0, 3), -8, 8)),
        ),
        orientation=rng.uniform(0.0, 2 * math.pi),
        red_cells=red_cells,
        neighbour=neighbour,
        hue_shift=rng.normal(0.0, 5.0),
        saturation=rng.uniform(0.7, 1.3),
        brightness=rng.uniform(0.88, 1.08),
        channel_gain=tuple(float(g) for g in rng.normal(1.0, 0.03, 3)),
        blur_sigma=rng.uniform(0.3, 1.3) if blurred else 0.0,
        noise_sigma=rng.uniform(1.0, 6.0),
        jpeg_quality=int(rng.integers(60, 96)) if compressed else None,
    )


# --- drawing --------------------------------------------------------------------------------


def _outline(
    center: tuple[float, float],
    radius: float,
    orientation: float,
    aspect: float,
    harmonics: np.ndarray,
    clefts: tuple[tuple[float, float, float], ...] = (),
    points: int = 96,
) -> np.ndarray:
    """A closed outline ``[N, 2]`` (float): an ellipse bent by low harmonics and notches."""
    theta = np.linspace(0.0, 2 * math.pi, points, endpoint=False)
    r = np.ones_like(theta)
    for order, (amplitude, phase) in enumerate(harmonics, start=2):
        r += amplitude * np.cos(order * theta + phase)
    for angle, depth, width in clefts:
        delta = np.angle(np.exp(1j * (theta - angle)))
        r *= 1.0 - depth * np.exp(-0.5 * (delta / width) ** 2)
    x, y = radius * r * np.cos(theta) * aspect, radius * r * np.sin(theta) / aspect
    cos, sin = math.cos(orientation), math.sin(orientation)
    return np.stack([center[0] + cos * x - sin * y, center[1] + sin * x + cos * y], axis=1)


def _random_harmonics(amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Amplitude/phase pairs for orders 2..5, weaker at higher orders."""
    orders = np.arange(2, 6)
    return np.stack(
        [amplitude * rng.normal(0.0, 1.0, 4) / np.sqrt(orders - 1), rng.uniform(0, 2 * np.pi, 4)],
        axis=1,
    )


def _fill(size: int, outline: np.ndarray) -> np.ndarray:
    """An anti-aliased float mask in [0, 1] of a polygon."""
    mask = np.zeros((size, size), np.uint8)
    points = np.round(outline * _SUBPIXEL).astype(np.int32)
    cv2.fillPoly(mask, [points], 255, cv2.LINE_AA, shift=_SUBPIXEL_BITS)
    return mask.astype(np.float32) / 255.0


def _discs(size: int, discs: list[tuple[float, float, float]]) -> np.ndarray:
    """An anti-aliased mask of filled circles (x, y, radius)."""
    mask = np.zeros((size, size), np.uint8)
    for x, y, radius in discs:
        center = (round(x * _SUBPIXEL), round(y * _SUBPIXEL))
        cv2.circle(mask, center, round(radius * _SUBPIXEL), 255, -1, cv2.LINE_AA, _SUBPIXEL_BITS)
    return mask.astype(np.float32) / 255.0


def _blend(canvas: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    """Paint ``colour`` (one colour or a per-pixel image) over ``canvas`` with ``alpha``."""
    canvas += alpha[..., None] * (colour - canvas)


def _noise_field(size: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth unit-variance noise whose blobs are about ``size / cells`` pixels wide."""
    grid = rng.standard_normal((max(cells, 2), max(cells, 2))).astype(np.float32)
    field = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-6)


def _draw_red_cells(canvas: np.ndarray, nuisance: _Nuisance, scale: float) -> None:
    size = canvas.shape[0]
    body = np.zeros((size, size), np.float32)
    pallor = np.zeros((size, size), np.float32)
    for x, y, radius, aspect, angle in nuisance.red_cells:
        center, r = (x * size, y * size), radius * scale
        flat = np.zeros((2, 2))
        body = np.maximum(body, _fill(size, _outline(center, r, angle, aspect, flat)))
        pallor = np.maximum(pallor, _fill(size, _outline(center, 0.45 * r, angle, aspect, flat)))
    pallor = cv2.GaussianBlur(pallor, (0, 0), 2.5 * scale) * body
    _blend(canvas, 0.85 * body, _RED_CELL)
    _blend(canvas, 0.65 * pallor, _PALLOR)


def _draw_neighbour(
    canvas: np.ndarray, nuisance: _Nuisance, scale: float, rng: np.random.Generator
) -> None:
    """A second white cell cut by the frame: a distractor the model must learn to ignore."""
    if nuisance.neighbour is None:
        return
    size = canvas.shape[0]
    kind, direction, distance = nuisance.neighbour
    cx = size / 2 + math.cos(direction) * distance * size
    cy = size / 2 + math.sin(direction) * distance * size
    radius = rng.uniform(17.0, 23.0) * scale
    body = _fill(size, _outline((cx, cy), radius, 0.0, 1.0, _random_harmonics(0.03, rng)))
    if kind == "neutrophil":
        _blend(canvas, 0.92 * body, _GRANULAR_CYTOPLASM)
        lobes = [
            (cx + 0.45 * radius * math.cos(a), cy + 0.45 * radius * math.sin(a), 0.3 * radius)
            for a in rng.uniform(0.0, 2 * math.pi) + np.array([0.0, 2.1, 4.2])
        ]
        nucleus = _discs(size, lobes)
    else:
        _blend(canvas, 0.92 * body, _CYTOPLASM_PALE)
        nucleus = _discs(size, [(cx, cy, 0.8 * radius)])
    _blend(canvas, 0.95 * nucleus * body, _CHROMATIN_DARK * 1.1)


def _render(
    morphology: _Morphology,
    nuisance: _Nuisance,
    size: int,
    rng: np.random.Generator,
    texture: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Compose the smear in canonical colours, then stain, blur, noise and compress it."""
    scale = size / REFERENCE_SIZE * nuisance.magnification
    canvas = np.empty((size, size, 3), np.float32)
    canvas[:] = _PLASMA
    _draw_red_cells(canvas, nuisance, scale)
    _draw_neighbour(canvas, nuisance, scale, rng)
    measured = _draw_white_cell(canvas, morphology, nuisance, scale, rng, texture)
    canvas *= (1.0 + 0.04 * _noise_field(size, 3, texture))[..., None]  # uneven illumination
    return _acquire(canvas, nuisance, size, texture), measured


def _draw_white_cell(
    canvas: np.ndarray,
    morphology: _Morphology,
    nuisance: _Nuisance,
    scale: float,
    rng: np.random.Generator,
    texture: np.random.Generator,
) -> dict[str, Any]:
    """The cell of interest: cytoplasm, nucleus with chromatin, nucleoli, vacuoles."""
    size = canvas.shape[0]
    center = (
        size / 2 + nuisance.offset[0] * size / REFERENCE_SIZE,
        size / 2 + nuisance.offset[1] * size / REFERENCE_SIZE,
    )
    cell_radius = morphology.cell_radius * scale
    cell_outline = _outline(
        center,
        cell_radius,
        rng.uniform(0, 2 * np.pi),
        rng.uniform(0.92, 1.08),
        _random_harmonics(0.025, rng),
    )
    cell = _fill(size, cell_outline)
    blue = morphology.cytoplasm_blue
    cytoplasm = _CYTOPLASM_PALE + blue * (_CYTOPLASM_BLUE - _CYTOPLASM_PALE)
    shade = 1.0 + 0.03 * _noise_field(size, size // 6, texture)[..., None]
    _blend(canvas, 0.95 * cell, cytoplasm * shade)

    nucleus_radius = morphology.nucleus_ratio * cell_radius
    room = max(0.0, cell_radius - nucleus_radius)
    shift, direction = rng.uniform(0.0, 0.6) * room, rng.uniform(0, 2 * np.pi)
    nucleus_center = (
        center[0] + shift * math.cos(direction),
        center[1] + shift * math.sin(direction),
    )
    nucleus_outline = _outline(
        nucleus_center,
        nucleus_radius,
        nuisance.orientation,
        rng.uniform(0.92, 1.1),
        _random_harmonics(morphology.irregularity, rng),
        morphology.clefts,
    )
    nucleus = _fill(size, nucleus_outline) * cell
    grain = size / (3.5 * scale)
    chromatin = np.clip(
        morphology.chromatin_darkness
        + morphology.fine_texture * _noise_field(size, round(grain), texture)
        + morphology.coarse_texture * _noise_field(size, round(grain / 2.6), texture),
        0.0,
        1.0,
    )[..., None]
    _blend(
        canvas, 0.97 * nucleus, _CHROMATIN_LIGHT + chromatin * (_CHROMATIN_DARK - _CHROMATIN_LIGHT)
    )

    placed = _place_discs(
        nucleus, nucleus_center, 0.5 * nucleus_radius, (1.8, 3.2), scale, morphology.n_nucleoli, rng
    )
    nucleoli = cv2.GaussianBlur(_discs(size, placed), (0, 0), 0.6 * scale) * nucleus
    _blend(canvas, morphology.nucleolus_alpha * nucleoli, _NUCLEOLUS)

    vacuoles = _place_discs(
        cell, center, 0.85 * cell_radius, (1.5, 3.0), scale, morphology.n_vacuoles, rng
    )
    _blend(canvas, 0.7 * _discs(size, vacuoles) * cell, _VACUOLE)
    return _measure(cell, nucleus, nucleus_outline, center, len(placed), len(vacuoles))


def _place_discs(
    inside: np.ndarray,
    center: tuple[float, float],
    spread: float,
    radius_range: tuple[float, float],
    scale: float,
    count: int,
    rng: np.random.Generator,
) -> list[tuple[float, float, float]]:
    """Up to ``count`` discs centred within ``spread`` of ``center`` and inside the mask."""
    placed: list[tuple[float, float, float]] = []
    size = inside.shape[0]
    for _ in range(count):
        for _attempt in range(10):
            angle, reach = rng.uniform(0, 2 * np.pi), spread * math.sqrt(rng.random())
            x, y = center[0] + reach * math.cos(angle), center[1] + reach * math.sin(angle)
            radius = rng.uniform(*radius_range) * scale
            col, row = int(x), int(y)
            if 0 <= row < size and 0 <= col < size and inside[row, col] > 0.9:
                placed.append((x, y, radius))
                break
    return placed


def _measure(
    cell: np.ndarray,
    nucleus: np.ndarray,
    nucleus_outline: np.ndarray,
    center: tuple[float, float],
    n_nucleoli: int,
    n_vacuoles: int,
) -> dict[str, Any]:
    """Ground truth measured on the drawn masks, as a pathologist's morphometry would."""
    cell_area = int(np.count_nonzero(np.maximum(cell, nucleus) > 0.5))
    nucleus_area = int(np.count_nonzero(nucleus > 0.5))
    contour = nucleus_outline.astype(np.float32)
    hull_area = cv2.contourArea(cv2.convexHull(contour))
    solidity = cv2.contourArea(contour) / hull_area if hull_area > 0 else 1.0
    return {
        "cell_center": [round(center[0], 2), round(center[1], 2)],
        "cell_area_px": cell_area,
        "nucleus_area_px": nucleus_area,
        "nc_ratio": round(nucleus_area / max(cell_area, 1), 4),
        "nucleus_irregularity": round(1.0 - solidity, 4),
        "n_nucleoli": n_nucleoli,
        "n_vacuoles": n_vacuoles,
    }


def _acquire(
    canvas: np.ndarray, nuisance: _Nuisance, size: int, texture: np.random.Generator
) -> np.ndarray:
    """The microscope and camera: stain variation, blur, sensor noise, JPEG; uint8 RGB out."""
    rgb = np.clip(canvas * np.array(nuisance.channel_gain, np.float32) * 255.0, 0, 255)
    hsv = cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = np.mod(hsv[..., 0] + nuisance.hue_shift, 180.0)
    hsv[..., 1] *= nuisance.saturation
    hsv[..., 2] *= nuisance.brightness
    image = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
    image = image.astype(np.float32)
    if nuisance.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), nuisance.blur_sigma * size / REFERENCE_SIZE)
    image += texture.normal(0.0, nuisance.noise_sigma, image.shape).astype(np.float32)
    image = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    if nuisance.jpeg_quality is not None:
        quality = [cv2.IMWRITE_JPEG_QUALITY, nuisance.jpeg_quality]
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), quality)
        if ok:
            image = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(image)


def _truth(
    cell_class: str,
    seed: int,
    size: int,
    morphology: _Morphology,
    nuisance: _Nuisance,
    measured: dict[str, Any],
) -> dict[str, Any]:
    """JSON-safe ground truth: class, seed, measured morphology, and the nuisance drawn."""
    return {
        "class": cell_class,
        "seed": seed,
        "size": [size, size],
        "stage": round(morphology.stage, 4),
        **measured,
        "n_clefts": len(morphology.clefts),
        "chromatin_darkness": round(morphology.chromatin_darkness, 4),
        "cytoplasm_basophilia": round(morphology.cytoplasm_blue, 4),
        "magnification": round(nuisance.magnification, 4),
        "nucleus_orientation_deg": round(math.degrees(nuisance.orientation), 2),
        "n_red_cells": len(nuisance.red_cells),
        "neighbour_cell": nuisance.neighbour[0] if nuisance.neighbour else None,
        "stain": {
            "hue_shift": round(nuisance.hue_shift, 3),
            "saturation": round(nuisance.saturation, 3),
            "brightness": round(nuisance.brightness, 3),
        },
        "blur_sigma": round(nuisance.blur_sigma, 3),
        "noise_sigma": round(nuisance.noise_sigma, 3),
        "jpeg_quality": nuisance.jpeg_quality,
    }
