"""The eleven findings of the chest radiograph phantoms: where each goes and how it looks.

Each finding has a sampler ``(rng, chest, grid) -> Drawn``: it picks the lesion's place at
random *within its anatomically plausible zone* (``LungGrid``: lung fields in lung-relative
coordinates, ``u`` 0 medial .. 1 lateral, ``v`` 0 apex .. 1 costophrenic angle), its size in
centimetres and its density, and returns a JSON-safe summary for the truth, a ``draw``
closure that renders it on a ``Scene`` and, for findings that change the anatomy (heart
size, volume loss), a ``modify`` closure.  Every finding draws from its own generator, so
adding or removing one finding never moves another, and the truth's mask is where the
finding shows (``Layer.mask``), which is what lesion localisation is scored against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from inference.phantoms import cxr_anatomy as anatomy
from inference.phantoms.cxr_anatomy import LEFT, RIGHT, SIGN, Chest
from inference.phantoms.cxr_render import Scene, draw_lines
from inference.phantoms.radiograph_drawing import Canvas

SIDE_NAMES = ("right", "left")


@dataclass
class Layer:
    """One finding's contribution (``cxr_render`` says what each layer means)."""

    mask: np.ndarray  # bool: where the finding shows
    fill: np.ndarray | None = None
    clear: np.ndarray | None = None
    dense: np.ndarray | None = None


@dataclass(frozen=True)
class Drawn:
    summary: dict[str, Any]
    draw: Callable[[Scene], Layer]
    modify: Callable[[Chest], Chest] | None = None


class LungGrid:
    """The base chest's lung fields on a 0.01-unit canonical grid, for placing lesions.

    The mediastinum is cut out at the largest heart cardiomegaly draws, so no lesion ever
    hides behind an enlarged heart (its label would then have nothing to show).
    """

    STEP = 0.01
    X0, Y0, NX, NY = -1.2, -0.15, 240, 230

    def __init__(self, chest: Chest) -> None:
        affine = np.array([[1, 0, -self.X0], [0, 1, -self.Y0]], np.float64) / self.STEP
        canvas = Canvas(self.NX, self.NY, affine, 1 / self.STEP)
        # Lesions go where the largest heart cardiomegaly draws would not hide them.
        mediastinum = canvas.blank()
        canvas.polygon(mediastinum, anatomy.mediastinum_outline(anatomy.with_ctr(chest, 0.68)))
        self.x = self.X0 + (np.arange(self.NX) + 0.5)[None, :] * self.STEP + np.zeros((self.NY, 1))
        self.y = self.Y0 + (np.arange(self.NY) + 0.5)[:, None] * self.STEP + np.zeros((1, self.NX))
        self.u, self.v, self.inside, self.margin = [], [], [], []
        for side in (RIGHT, LEFT):
            lung = canvas.blank()
            canvas.polygon(lung, anatomy.lung_outline(chest, side))
            inside = (lung > 127) & (mediastinum < 128)
            reach = np.abs(self.x) * inside
            lateral = reach.max(axis=1, keepdims=True)
            medial = np.where(inside, np.abs(self.x), 9.0).min(axis=1, keepdims=True)
            self.u.append(
                np.clip((np.abs(self.x) - medial) / np.maximum(lateral - medial, 1e-3), 0, 1)
            )
            top, bottom = chest.apex_y[side], chest.base_y[side]
            self.v.append((self.y - top) / (bottom - top))
            self.inside.append(inside)
            distance = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 3)
            self.margin.append(distance * self.STEP)

    def sample(
        self,
        rng: np.random.Generator,
        side: int,
        zone: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        margin: float = 0.0,
    ) -> np.ndarray:
        """A uniform random point of the lung field where ``zone(u, v)`` holds."""
        where = self.inside[side] & (self.margin[side] >= margin)
        if zone is not None:
            where &= zone(self.u[side], self.v[side])
        if not where.any():  # a zone is never empty for a real chest; stay safe anyway
            where = self.inside[side]
        rows, columns = np.nonzero(where)
        pick = int(rng.integers(len(rows)))
        jitter = rng.uniform(-0.5, 0.5, 2) * self.STEP
        return (
            np.array([self.x[rows[pick], columns[pick]], self.y[rows[pick], columns[pick]]])
            + jitter
        )


def pick_sides(rng: np.random.Generator, both: float) -> list[int]:
    draw = rng.random()
    if draw < both:
        return [RIGHT, LEFT]
    return [RIGHT] if draw < both + (1 - both) * 0.55 else [LEFT]


def side_name(sides: list[int]) -> str:
    return "both" if len(sides) == 2 else SIDE_NAMES[sides[0]]


def disk(scene: Scene, center: np.ndarray, radius: float, power: float = 0.5) -> np.ndarray:
    """A sphere's projected thickness (0..1) about ``center``, ``radius`` in units."""
    rho2 = ((scene.x - center[0]) ** 2 + (scene.y - center[1]) ** 2) / radius**2
    return np.clip(1.0 - rho2, 0.0, 1.0) ** power


def smooth_noise(scene: Scene, rng: np.random.Generator, cells: int) -> np.ndarray:
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    size = (scene.canvas.width, scene.canvas.height)
    return cv2.resize(grid, size, interpolation=cv2.INTER_CUBIC)


def blur(scene: Scene, values: np.ndarray, units: float) -> np.ndarray:
    sigma = units * scene.canvas.unit_px
    return cv2.GaussianBlur(values, (0, 0), sigma) if sigma > 0.3 else values


def visible_lung(scene: Scene, side: int) -> np.ndarray:
    """The visible lung field of one side (the mediastinum excluded)."""
    return scene.lungs[side] * (1.0 - scene.mediastinum)


def hilum_angle(scene: Scene, side: int, chest: Chest) -> np.ndarray:
    """Degrees from straight up (0) towards lateral (90) to down (180), about the hilum."""
    center = anatomy.hilum(chest, side)
    return np.degrees(np.arctan2(SIGN[side] * (scene.x - center[0]), center[1] - scene.y))


def angle_window(angle: np.ndarray, start: float, end: float, soft: float = 10.0) -> np.ndarray:
    return np.clip((angle - start) / soft + 0.5, 0, 1) * np.clip((end - angle) / soft + 0.5, 0, 1)


def volume_loss_mask(scene: Scene, base: Chest, side: int, amount: float) -> np.ndarray:
    """The band a raised hemidiaphragm moved over: part of where volume loss shows."""
    before = scene.mask(anatomy.lung_outline(base, side))
    after = scene.mask(anatomy.lung_outline(anatomy.elevated(base, side, amount), side))
    return (before > 127) != (after > 127)


def radius_units(chest: Chest, diameter_cm: float) -> float:
    return diameter_cm / 2 / chest.unit_cm


# --- the findings ---------------------------------------------------------------------------


def tuberculosis(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """Post-primary TB: nodules, patchy consolidation and thick-walled cavities, apically."""
    sides = pick_sides(rng, 0.25)
    clusters = []
    for side in sides:
        center = grid.sample(rng, side, lambda u, v: (v < 0.36) & (u > 0.1), margin=0.05)
        nodules = [
            (center + rng.normal(0.0, 0.08, 2), radius_units(chest, rng.uniform(0.6, 1.8)))
            for _ in range(int(rng.integers(3, 9)))
        ]
        count = int(rng.choice([0, 1, 2], p=[0.25, 0.5, 0.25]))
        cavities = [
            (
                center + rng.normal(0.0, 0.05, 2),
                radius_units(chest, rng.uniform(2.0, 4.5)),
                rng.uniform(0.28, 0.42),
            )
            for _ in range(count)
        ]
        patch = (center, rng.uniform(0.12, 0.24), rng.uniform(0.5, 0.8))
        clusters.append((side, nodules, cavities, patch, int(rng.integers(2**31))))

    def draw(scene: Scene) -> Layer:
        fill, hollow = scene.zeros(), np.zeros(scene.x.shape, bool)
        for side, nodules, cavities, (center, radius, peak), seed in clusters:
            noise = smooth_noise(scene, np.random.default_rng(seed), 20)
            part = peak * disk(scene, center, radius, 1.0) * np.clip(0.7 + 0.4 * noise, 0, 1)
            for middle, size in nodules:
                part = np.maximum(part, 0.85 * blur(scene, disk(scene, middle, size), 0.3 * size))
            for middle, size, wall in cavities:
                ring = disk(scene, middle, size, 0.3) * np.clip(0.8 + 0.3 * noise, 0, 1)
                inner = disk(scene, middle, size * (1 - wall), 0.3) > 0.05
                part = np.maximum(part, 0.95 * ring) * (1.0 - inner)
                hollow |= inner
            fill = np.maximum(fill, part * visible_lung(scene, side))
        return Layer(mask=(fill > 0.2) | hollow, fill=fill)

    summary = {
        "side": side_name(sides),
        "zone": "upper",
        "cavities": sum(len(c[2]) for c in clusters),
        "nodules": sum(len(c[1]) for c in clusters),
    }
    return Drawn(summary, draw)


def cardiomegaly(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """An enlarged cardiac silhouette: CTR 0.54..0.68, mostly the left ventricle."""
    ctr = float(rng.uniform(0.54, 0.68))

    def draw(scene: Scene) -> Layer:
        return Layer(mask=scene.mask(anatomy.heart_outline(scene.chest)) > 127)

    return Drawn({"ctr": round(ctr, 4)}, draw, lambda c: anatomy.with_ctr(c, ctr))


def pleural_thickening(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """A smooth or lobulated soft-tissue band along the lateral chest wall, or an apical cap."""
    kind = str(rng.choice(["lateral", "apical"], p=[0.65, 0.35]))
    sides = pick_sides(rng, 0.2)
    if kind == "lateral":
        start, end = rng.uniform(35, 75), rng.uniform(105, 150)
        thickness = radius_units(chest, 2 * rng.uniform(0.4, 1.1))
    else:
        start, end = rng.uniform(-45, -25), rng.uniform(25, 60)
        thickness = radius_units(chest, 2 * rng.uniform(0.6, 1.6))
    lobes, phase = rng.uniform(0.0, 0.45), rng.uniform(0, 2 * math.pi)
    density = rng.uniform(0.15, 0.3)
    frequency = rng.uniform(0.08, 0.2)

    def draw(scene: Scene) -> Layer:
        fill = scene.zeros()
        for side in sides:
            lung = scene.mask(anatomy.lung_outline(scene.chest, side)) > 127
            depth = cv2.distanceTransform(lung.astype(np.uint8), cv2.DIST_L2, 3)
            depth /= scene.canvas.unit_px
            angle = hilum_angle(scene, side, scene.chest)
            local = thickness * (1.0 + lobes * np.sin(frequency * angle + phase))
            local = np.maximum(local, 1.5 / scene.canvas.unit_px)  # visible at any size
            band = (depth < local) & lung
            part = blur(scene, band.astype(np.float32), 0.15 * thickness) * angle_window(
                angle, start, end
            )
            fill = np.maximum(fill, part * (1.0 - scene.mediastinum))
        # Seen end-on, the thickened pleura is a long path of tissue: denser than the air
        # it replaces near the chest wall would make it.
        return Layer(mask=fill > 0.3, fill=0.92 * fill, dense=density * fill)

    summary = {
        "side": side_name(sides),
        "zone": kind,
        "thickness_cm": round(thickness * chest.unit_cm, 2),
    }
    return Drawn(summary, draw)


def pleural_effusion(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """Fluid at the base: a blunted costophrenic angle, a meniscus rising laterally, and a
    dense basal opacity that hides the hemidiaphragm."""
    sides = pick_sides(rng, 0.25)
    levels = {side: (rng.uniform(0.1, 0.65), rng.uniform(0.06, 0.2)) for side in sides}

    def draw(scene: Scene) -> Layer:
        fill = scene.zeros()
        for side, (height, rise) in levels.items():
            width = scene.chest.half_width[side]
            surface = scene.chest.base_y[side] - height - rise * (np.abs(scene.x) / width) ** 2
            gradient = np.clip((scene.y - surface) / (0.05 + 0.12 * height), 0.0, 1.0) ** 0.7
            fill = np.maximum(fill, gradient * scene.lungs[side])
        return Layer(mask=fill > 0.25, fill=fill)

    summary = {
        "side": side_name(sides),
        "zone": "base",
        "height": {SIDE_NAMES[s]: round(h, 3) for s, (h, _) in levels.items()},
    }
    return Drawn(summary, draw)


def pneumothorax(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """A visceral pleural line with no lung markings beyond it, apical or apicolateral."""
    side = RIGHT if rng.random() < 0.55 else LEFT
    extent = str(rng.choice(["apical", "apicolateral", "large"], p=[0.35, 0.45, 0.2]))
    end = {"apical": (50, 95), "apicolateral": (95, 140), "large": (140, 175)}[extent]
    end_angle = rng.uniform(*end)
    collapse = rng.uniform(0.2, 0.4) if extent == "large" else rng.uniform(0.08, 0.28)
    line = rng.uniform(0.008, 0.014)

    def draw(scene: Scene) -> Layer:
        outline = anatomy.lung_outline(scene.chest, side)
        center = anatomy.hilum(scene.chest, side)
        offset = outline - center
        angle = np.degrees(np.arctan2(SIGN[side] * offset[:, 0], -offset[:, 1]))
        weight = angle_window(angle, -30.0, end_angle, 30.0)
        collapsed = center + offset * (1.0 - collapse * weight)[:, None]
        lung = scene.mask(outline) > 127
        gap = lung & ~(scene.mask(collapsed) > 127)
        clear = blur(scene, gap.astype(np.float32), 0.004)
        shown = weight > 0.05
        edges = np.flatnonzero(np.diff(np.concatenate([[0], shown.astype(np.int8), [0]])))
        runs = [collapsed[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a > 1]
        pleura = draw_lines(scene.canvas, [(run, line) for run in runs], 1.0)
        pleura = np.clip(pleura, 0, 1) * lung
        return Layer(mask=gap | (pleura > 0.2), clear=clear, dense=0.22 * pleura)

    summary = {"side": SIDE_NAMES[side], "zone": extent, "collapse": round(collapse, 3)}
    return Drawn(summary, draw)


LOBES = ("upper", "middle", "lower", "upper", "lingula", "lower")


def _lobe(chest: Chest, side: int, lobe: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """0..1 membership of a lobe (as projected on a PA film); the minor fissure is sharp."""
    hy = anatomy.hilum(chest, side)[1]
    fissure = hy + 0.02 + 0.06 * (np.abs(x) - 0.3)
    base = chest.base_y[side]

    def soft(values: np.ndarray, width: float) -> np.ndarray:
        return np.clip(values / width + 0.5, 0.0, 1.0)

    if side == RIGHT and lobe == "upper":
        return soft(fissure - y, 0.01)
    if side == RIGHT and lobe == "middle":
        return (
            soft(y - fissure, 0.01) * soft(fissure + 0.38 - y, 0.15) * soft(0.75 - np.abs(x), 0.2)
        )
    if lobe == "upper":
        return soft(hy + 0.08 - y, 0.2)
    if lobe == "lingula":
        return soft(y - hy - 0.05, 0.12) * soft(hy + 0.5 - y, 0.15) * soft(0.7 - np.abs(x), 0.2)
    return soft(y - (base - 0.55), 0.18)


def consolidation(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """Dense lobar or segmental airspace opacity with air bronchograms."""
    index = int(rng.choice(6, p=[0.18, 0.14, 0.22, 0.16, 0.1, 0.2]))
    side, lobe = (RIGHT if index < 3 else LEFT), LOBES[index]
    lobar = rng.random() < 0.45

    def zone(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return _lobe(chest, side, lobe, grid.x, grid.y) > 0.7

    center = grid.sample(rng, side, zone, margin=0.05)
    radius = rng.uniform(0.22, 0.4)
    peak = rng.uniform(0.8, 0.97)
    root = anatomy.hilum(chest, side)
    bronchi = []
    for _ in range(int(rng.integers(3, 7))):
        start = root + (center - root) * rng.uniform(0.35, 0.7) + rng.normal(0.0, 0.03, 2)
        heading = math.atan2(*(center - root)[::-1]) + rng.normal(0.0, 0.45)
        length = rng.uniform(0.12, 0.25)
        points = [
            start
            + length
            * t
            * np.array([math.cos(heading + 0.3 * t * k), math.sin(heading + 0.3 * t * k)])
            for k, t in ((1, 0.0), (1, 0.5), (1, 1.0))
        ]
        bronchi.append((np.array(points), rng.uniform(0.014, 0.022)))
    seed = int(rng.integers(2**31))

    def draw(scene: Scene) -> Layer:
        region = _lobe(scene.chest, side, lobe, scene.x, scene.y)
        if not lobar:
            region = region * blur(
                scene, (disk(scene, center, radius, 1.0) > 0.01).astype(np.float32), 0.05
            )
        noise = smooth_noise(scene, np.random.default_rng(seed), 16)
        fill = peak * region * np.clip(0.88 + 0.12 * noise, 0, 1) * visible_lung(scene, side)
        tubes = np.clip(blur(scene, draw_lines(scene.canvas, bronchi), 0.004), 0, 1)
        fill = fill * (1.0 - 0.8 * tubes * np.clip((fill - 0.4) / 0.2, 0, 1))
        return Layer(mask=fill > 0.3, fill=fill)

    summary = {
        "side": SIDE_NAMES[side],
        "zone": f"{SIDE_NAMES[side]} {lobe}",
        "extent": "lobar" if lobar else "segmental",
        "air_bronchograms": len(bronchi),
    }
    return Drawn(summary, draw)
