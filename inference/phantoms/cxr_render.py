"""Rendering the chest radiograph phantoms: anatomy -> attenuation -> a detector signal.

The picture is physical in the way that matters for what a network learns: the projected
attenuation is the body's soft-tissue thickness times one minus the lungs' air fraction, so
anything that replaces air (fluid, consolidation, a nodule, collapse) whitens the lung by
how much air it replaces, and silhouettes a heart or diaphragm border it touches, exactly as
the "silhouette sign" says.  Bones and calcium are added on top; a pneumothorax raises the
air fraction and removes the vessels beyond the pleural line.  The lungs' air depth comes
from the distance to the lung's lateral and apical borders only (``lung_outline(column=
True)``), so a raised hemidiaphragm changes nothing but the pixels it moves over.

Findings hand in three layers (``Lesions``): ``fill`` (0..1 of the air replaced), ``clear``
(0..1 pneumothorax: all air, no markings) and ``dense`` (added attenuation).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from inference.phantoms import cxr_anatomy as anatomy
from inference.phantoms.cxr_anatomy import LEFT, POSTERIOR_RIBS, RIGHT, Chest
from inference.phantoms.radiograph_drawing import Canvas
from inference.phantoms.vhs import _marker as draw_marker

AIR_FRACTION = 0.76  # of the path through a full-depth lung
HEART_COVER = 0.85  # of the lung air behind the heart that the heart replaces


@dataclass
class Scene:
    """A canvas for one chest, and what findings need to draw on it."""

    canvas: Canvas
    chest: Chest
    x: np.ndarray  # canonical x of every pixel centre
    y: np.ndarray
    lungs: tuple[np.ndarray, np.ndarray]  # soft lung fields, 0..1, (right, left)
    mediastinum: np.ndarray  # soft, 0..1

    def mask(self, points: np.ndarray) -> np.ndarray:
        out = self.canvas.blank()
        self.canvas.polygon(out, points)
        return out

    def zeros(self) -> np.ndarray:
        return np.zeros((self.canvas.height, self.canvas.width), np.float32)


@dataclass
class Lesions:
    """What the findings add to the normal chest (see the module docstring)."""

    fill: np.ndarray
    clear: np.ndarray
    dense: np.ndarray
    masks: dict[str, np.ndarray] = field(default_factory=dict)


def make_canvas(
    size: tuple[int, int], center: tuple[float, float], unit_px: float, rotation_deg: float
) -> Canvas:
    """Canonical units -> pixels: scale, rotate about the chest centre, centre in the frame."""
    angle = math.radians(rotation_deg)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    linear = unit_px * rotation
    shift = np.array(size, np.float64) / 2 - linear @ np.array(center)
    return Canvas(size[0], size[1], np.hstack([linear, shift[:, None]]), unit_px)


def make_scene(canvas: Canvas, chest: Chest) -> Scene:
    inverse = np.linalg.inv(canvas.affine[:, :2])
    columns = np.arange(canvas.width, dtype=np.float64) + 0.5 - canvas.affine[0, 2]
    rows = np.arange(canvas.height, dtype=np.float64) + 0.5 - canvas.affine[1, 2]
    x = inverse[0, 0] * columns[None, :] + inverse[0, 1] * rows[:, None]
    y = inverse[1, 0] * columns[None, :] + inverse[1, 1] * rows[:, None]
    lungs = tuple(
        canvas.soft(_filled(canvas, anatomy.lung_outline(chest, side)), 0.006)
        for side in (RIGHT, LEFT)
    )
    mediastinum = canvas.soft(_filled(canvas, anatomy.mediastinum_outline(chest)), 0.01)
    return Scene(canvas, chest, x.astype(np.float32), y.astype(np.float32), lungs, mediastinum)


def _filled(canvas: Canvas, points: np.ndarray) -> np.ndarray:
    mask = canvas.blank()
    canvas.polygon(mask, points)
    return mask


def _profile(canvas: Canvas, mask: np.ndarray, depth_units: float) -> np.ndarray:
    """0 at the edge of ``mask`` rising to 1 ``depth_units`` inside: a rounded thickness."""
    distance = cv2.distanceTransform((mask > 127).astype(np.uint8), cv2.DIST_L2, 3)
    return np.sqrt(np.clip(distance / (depth_units * canvas.unit_px), 0.0, 1.0))


def draw_lines(
    canvas: Canvas,
    polylines: list[tuple[np.ndarray, float]],
    value: float | np.ndarray = 1.0,
) -> np.ndarray:
    """Polylines of given widths (units) summed into one float map, ``value`` each.

    Thinner than a pixel, a line is drawn one pixel wide at a proportionally lower value, so
    fine structures keep their contrast per area at any image size.  Lines are grouped by
    drawn thickness and value (in sixteenths), one OpenCV call per group.
    """
    out = np.zeros((canvas.height, canvas.width), np.float32)
    if not polylines:
        return out
    widths = np.array([width for _, width in polylines]) * canvas.unit_px
    thickness = np.maximum(1, np.round(widths)).astype(np.int64)
    level = np.maximum(1, np.round(np.minimum(widths, 1.0) * value * 16)).astype(np.int64)
    lengths = [len(points) for points, _ in polylines]
    # One affine map for every point (drawing thousands of vessels one by one is slow).
    pixels = canvas._fixed(np.concatenate([points for points, _ in polylines]))
    if len(set(lengths)) == 1:
        pieces = list(pixels.reshape(len(polylines), lengths[0], 2))
    else:
        pieces = np.split(pixels, np.cumsum(lengths)[:-1])
    keys = thickness * 4096 + level
    for key in np.unique(keys):
        mask = canvas.blank()
        group = [pieces[i] for i in np.flatnonzero(keys == key)]
        cv2.polylines(mask, group, False, 255, int(key // 4096), cv2.LINE_AA, 3)
        out += mask.astype(np.float32) * (float(key % 4096) / 16 / 255.0)
    return out


def body_thickness(scene: Scene) -> np.ndarray:
    """Soft-tissue thickness 0..~1.2: torso (thickest mid-chest), arms, breasts."""
    canvas, chest = scene.canvas, scene.chest
    thickness = _profile(canvas, _filled(canvas, anatomy.body_outline(chest)), 0.75)
    for side in (RIGHT, LEFT):
        arm = _filled(canvas, anatomy.arm_outline(chest, side))
        thickness += 0.75 * _profile(canvas, arm, 0.16)
    if chest.breasts > 0:
        for side in (RIGHT, LEFT):
            breast = canvas.blank()
            center = np.array([anatomy.SIGN[side] * 0.62, chest.base_y[side] - 0.2])
            radius = 0.25 + 0.15 * chest.breasts
            canvas.ellipse(breast, center, (radius * 1.25, radius), anatomy.SIGN[side] * 0.3)
            thickness += 0.1 * chest.breasts * _profile(canvas, breast, 0.25)
    return thickness


def bones(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Ribs (posterior and anterior arcs), clavicles, spine, scapulae, humeral heads."""
    canvas, chest = scene.canvas, scene.chest
    posterior, anterior, clavicles = [], [], []
    for side in (RIGHT, LEFT):
        for index in range(POSTERIOR_RIBS + 1):
            width = 0.072 + 0.004 * index + rng.normal(0.0, 0.003)
            back, front = anatomy.rib(chest, side, index)
            posterior.append((back, width))
            if index < POSTERIOR_RIBS - 2:
                anterior.append((front, width * 1.15))
        clavicles.append((anatomy.clavicle(chest, side), 0.066))
    total = np.zeros((canvas.height, canvas.width), np.float32)
    for polylines, band, edge in ((posterior, 0.045, 0.05), (clavicles, 0.12, 0.08)):
        mask = np.clip(draw_lines(canvas, polylines), 0.0, 1.0)
        total += band * mask + edge * _edges(canvas, mask)
    front = np.clip(draw_lines(canvas, anterior), 0.0, 1.0)
    fade = np.clip((np.abs(scene.x) - 0.35) / 0.3, 0.0, 1.0)  # cartilage does not show
    total += (0.035 * front + 0.03 * _edges(canvas, front)) * fade
    total += _spine(scene)
    if chest.scapula > 0:
        for side in (RIGHT, LEFT):
            total += 0.08 * canvas.soft(_filled(canvas, anatomy.scapula(chest, side)), 0.01)
    for side in (RIGHT, LEFT):
        head = canvas.blank()
        canvas.ellipse(head, np.array([anatomy.SIGN[side] * 1.38, -0.05]), (0.2, 0.22), 0.0)
        total += 0.3 * canvas.soft(head, 0.01)
    return total


def _edges(canvas: Canvas, mask: np.ndarray) -> np.ndarray:
    """The cortical rim of a bone mask (what makes ribs look like tubes)."""
    size = max(1, round(0.012 * canvas.unit_px))
    kernel = np.ones((2 * size + 1, 2 * size + 1), np.uint8)
    return np.clip(mask - cv2.erode(mask, kernel), 0.0, 1.0)


def _spine(scene: Scene) -> np.ndarray:
    """Vertebral bodies, pedicles and spinous processes, faint through the mediastinum."""
    canvas = scene.canvas
    bodies, rims = canvas.blank(), canvas.blank()
    step = scene.chest.rib_step * 0.98
    for k in range(-6, 24):
        top = scene.chest.rib_start - 0.05 + k * step
        half = 0.085 + 0.002 * k
        body = np.array(
            [(-half, top), (half, top), (half, top + step * 0.8), (-half, top + step * 0.8)]
        )
        canvas.polygon(bodies, body)
        for sign in (-1.0, 1.0):
            canvas.ellipse(rims, np.array([sign * half * 0.72, top + 0.03]), (0.02, 0.028), 0.0)
        canvas.ellipse(rims, np.array([0.0, top + step * 0.75]), (0.016, 0.03), 0.0)
    return 0.04 * canvas.soft(bodies, 0.012) + 0.03 * canvas.soft(rims, 0.008)


def vessels(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Lung markings: the vessel tree, its density growing with calibre, plus faint mottle."""
    canvas = scene.canvas
    tree = anatomy.vessel_tree(scene.chest, rng)
    # A vessel's projected density grows with its calibre.
    density = np.minimum(1.0, np.array([width for _, width in tree]) / 0.035)
    markings = draw_lines(canvas, tree, density)
    markings = cv2.GaussianBlur(markings, (0, 0), max(0.4, 0.004 * canvas.unit_px))
    grid = rng.standard_normal((24, 24)).astype(np.float32)
    mottle = cv2.resize(grid, (canvas.width, canvas.height), interpolation=cv2.INTER_CUBIC)
    return np.clip(markings, 0.0, 1.2) + 0.12 * mottle


def attenuation(scene: Scene, lesions: Lesions, rng: np.random.Generator) -> np.ndarray:
    """The projected attenuation of the whole chest with its findings, float32 ~0..1.6."""
    canvas, chest = scene.canvas, scene.chest
    thickness = body_thickness(scene)
    depth = sum(
        scene.lungs[side]
        * _profile(canvas, _filled(canvas, anatomy.lung_outline(chest, side, column=True)), 0.14)
        for side in (RIGHT, LEFT)
    )
    lung = np.clip(scene.lungs[0] + scene.lungs[1], 0.0, 1.0)
    depth = depth + lesions.clear * np.maximum(0.8 * lung - depth, 0.0)  # all air, no lung
    open_air = (1.0 - lesions.fill) * (1.0 - HEART_COVER * scene.mediastinum)
    air = AIR_FRACTION * depth * open_air
    markings = vessels(scene, rng) * lung * open_air * (1.0 - lesions.clear)
    column, bronchi = anatomy.trachea(chest)
    airway = draw_lines(canvas, [(column, 0.085)] + [(b, 0.05) for b in bronchi])
    airway = cv2.GaussianBlur(airway, (0, 0), max(0.5, 0.008 * canvas.unit_px))
    result = thickness * (1.0 - air) + 0.16 * markings - 0.2 * np.clip(airway, 0, 1) * thickness
    if chest.stomach_bubble > 0:
        bubble = canvas.blank()
        floor = dataclasses.replace(chest, base_y=chest.floor_y)  # it stays when the dome rises
        center = np.array([0.5, float(anatomy.dome_y(floor, LEFT, 0.5)) + 0.12])
        size = chest.stomach_bubble
        canvas.ellipse(bubble, center, (0.15 * size, 0.075 * size), 0.1)
        result -= 0.35 * canvas.soft(bubble, 0.015) * thickness
    # Scatter and the detector's processing flatten detail where the body is thick: bones
    # behind the heart and below the diaphragm show much less than over the lungs.
    return result + bones(scene, rng) * (1.0 - 0.55 * scene.mediastinum) + lesions.dense


# --- exposure -------------------------------------------------------------------------------


def sample_exposure(rng: np.random.Generator) -> dict[str, Any]:
    """Exposure and processing nuisance, JSON-safe (it goes into the truth)."""
    bands = {
        side: round(float(rng.uniform(0.02, 0.07)), 4) if rng.random() < 0.3 else 0.0
        for side in ("left", "right", "top", "bottom")
    }
    return {
        "black": round(float(rng.uniform(-0.06, 0.1)), 4),
        "white": round(float(rng.uniform(1.0, 1.4)), 4),
        "gamma": round(float(rng.uniform(0.75, 1.3)), 4),
        "unsharp": round(float(rng.choice([0.0, rng.uniform(0.15, 0.5)], p=[0.45, 0.55])), 4),
        "blur": round(float(rng.uniform(0.0, 1.0)), 4),
        "noise": round(float(rng.uniform(0.004, 0.025)), 4),
        "heel": round(float(rng.uniform(-0.06, 0.06)), 4),
        "collimation": bands,
        "collimation_tilt": round(float(rng.normal(0.0, 1.0)), 3),
        "shutter_white": bool(rng.random() < 0.75),
        "marker": str(rng.choice(["R", "L", ""], p=[0.45, 0.3, 0.25])),
        "marker_corner": int(rng.integers(4)),
    }


def expose(
    values: np.ndarray, exposure: dict[str, Any], canvas: Canvas, rng: np.random.Generator
) -> np.ndarray:
    """Attenuation -> the processed detector signal 0..1 (bright = dense), with nuisance."""
    span = exposure["white"] - exposure["black"]
    signal = np.clip((values - exposure["black"]) / span, 0.0, 1.0) ** exposure["gamma"]
    if exposure["unsharp"] > 0:  # the edge enhancement detector software applies
        sigma = 0.3 * canvas.unit_px
        signal = signal + exposure["unsharp"] * (signal - cv2.GaussianBlur(signal, (0, 0), sigma))
    scale = min(canvas.width, canvas.height) / 512
    if exposure["blur"] * scale > 0.3:
        signal = cv2.GaussianBlur(signal, (0, 0), exposure["blur"] * scale)
    rows = np.linspace(-0.5, 0.5, canvas.height, dtype=np.float32)[:, None]
    signal = signal * (1.0 + exposure["heel"] * rows)
    noise = rng.standard_normal(signal.shape).astype(np.float32)
    signal = signal + exposure["noise"] * (0.6 + 0.8 * np.clip(signal, 0, 1)) * noise
    signal = _collimate(signal, exposure, canvas)
    if exposure["marker"]:
        mark = np.zeros(signal.shape, np.uint8)
        draw_marker(mark, exposure["marker"], exposure["marker_corner"])
        signal = np.maximum(signal, mark.astype(np.float32) / 255.0)
    return np.clip(signal, 0.0, 1.0).astype(np.float32)


def _collimate(signal: np.ndarray, exposure: dict[str, Any], canvas: Canvas) -> np.ndarray:
    """Unexposed bands outside the collimated field (white) or a burnt-in shutter (black)."""
    bands = exposure["collimation"]
    if not any(bands.values()):
        return signal
    height, width = signal.shape
    field = np.zeros(signal.shape, np.uint8)
    corners = np.array(
        [
            (bands["left"] * width, bands["top"] * height),
            ((1 - bands["right"]) * width, bands["top"] * height),
            ((1 - bands["right"]) * width, (1 - bands["bottom"]) * height),
            (bands["left"] * width, (1 - bands["bottom"]) * height),
        ]
    )
    angle = math.radians(exposure["collimation_tilt"])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    middle = corners.mean(axis=0)
    corners = (corners - middle) @ rotation.T + middle
    cv2.fillPoly(field, [np.round(corners * 8).astype(np.int32)], 255, cv2.LINE_AA, 3)
    inside = cv2.GaussianBlur(field.astype(np.float32) / 255.0, (0, 0), 1.0 + 0.003 * width)
    fill = 0.92 if exposure["shutter_white"] else 0.0
    return signal * inside + fill * (1.0 - inside)
