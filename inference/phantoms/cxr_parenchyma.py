"""Atelectasis, nodules and masses, fibrosis, infiltration and calcification.

The parenchymal half of the chest radiograph phantoms' findings; ``cxr_findings`` has the
framework (``Drawn``, ``Layer``, ``LungGrid``) and the pleural, cardiac, cavitary and airspace
ones.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from inference.phantoms import cxr_anatomy as anatomy
from inference.phantoms.cxr_anatomy import LEFT, RIGHT, SIGN, Chest
from inference.phantoms.cxr_findings import (
    SIDE_NAMES,
    Drawn,
    Layer,
    LungGrid,
    blur,
    disk,
    pick_sides,
    radius_units,
    side_name,
    smooth_noise,
    visible_lung,
    volume_loss_mask,
)
from inference.phantoms.cxr_render import Scene, draw_lines


def _smooth(values: np.ndarray, low: float, high: float) -> np.ndarray:
    t = np.clip((values - low) / (high - low), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _mirrored(side: int, points: list[tuple[float, float]]) -> np.ndarray:
    return np.array([(SIGN[side] * x, y) for x, y in points])


def atelectasis(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """Collapse with volume loss: an upper-lobe wedge under a raised fissure, a lower-lobe
    triangle beside the heart (a "sail" seen through it on the left), or a plate-like band;
    the hemidiaphragm on that side rises."""
    kind = str(rng.choice(["upper lobe", "lower lobe", "plate"], p=[0.4, 0.25, 0.35]))
    side = RIGHT if rng.random() < 0.58 else LEFT
    top, hy = chest.apex_y[side], anatomy.hilum(chest, side)[1]
    if kind == "upper lobe":
        end = (rng.uniform(0.55, 0.85), top + rng.uniform(0.2, 0.4))
        sag = (0.5 * (0.2 + end[0]), 0.5 * (hy - 0.12 + end[1]) - rng.uniform(0.0, 0.05))
        shape = [(0.2, hy - 0.12), (0.13, top + 0.15), (0.3, top - 0.02), (0.56, top + 0.02)]
        polygon = _mirrored(side, [*shape, end, sag])
        rise = rng.uniform(0.03, 0.07)
    elif kind == "lower lobe":
        foot = rng.uniform(0.3, 0.5)
        dome = anatomy.dome_y(chest, side, SIGN[side] * np.array([0.06, foot]))
        polygon = _mirrored(
            side, [(0.19, hy + 0.04), (foot, float(dome[1]) + 0.06), (0.05, float(dome[0]) + 0.06)]
        )
        rise = rng.uniform(0.05, 0.12)
    else:
        center = grid.sample(
            rng, side, lambda u, v: (v > 0.55) & (v < 0.85) & (u > 0.15) & (u < 0.8)
        )
        length, tilt, bow = (
            rng.uniform(0.18, 0.4),
            rng.uniform(-0.25, 0.25),
            rng.uniform(-0.03, 0.03),
        )
        t = np.linspace(-0.5, 0.5, 6)[:, None]
        along = np.array([math.cos(tilt), math.sin(tilt)])
        polygon = center + t * length * along + (1 - 4 * t**2) * bow * np.array([0.0, 1.0])
        rise = rng.uniform(0.02, 0.05)
    thickness = rng.uniform(0.018, 0.035)
    peak = rng.uniform(0.8, 0.95)

    def draw(scene: Scene) -> Layer:
        if kind == "plate":
            shape = np.clip(draw_lines(scene.canvas, [(polygon, thickness)]), 0.0, 1.0)
        else:
            shape = scene.canvas.soft(scene.mask(polygon), 0.006)
        fill = peak * shape * scene.lungs[side]
        dense = 0.1 * fill * scene.mediastinum  # a collapsed lobe is denser than the heart
        mask = (fill > 0.3) | volume_loss_mask(scene, chest, side, rise)
        return Layer(mask=mask, fill=fill, dense=dense)

    summary = {"side": SIDE_NAMES[side], "zone": kind, "diaphragm_rise": round(rise, 3)}
    return Drawn(summary, draw, lambda c: anatomy.elevated(c, side, rise))


def nodule_mass(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """A round, well-defined opacity 1-5 cm anywhere in the lung fields (one in six: two);
    masses over 3 cm are often lobulated."""
    nodules = []
    for _ in range(1 if rng.random() < 0.84 else 2):
        side = RIGHT if rng.random() < 0.5 else LEFT
        diameter = float(math.exp(rng.uniform(0.0, math.log(5.0))))
        radius = radius_units(chest, diameter)
        center = grid.sample(rng, side, None, margin=0.6 * radius)
        peak = min(0.92, 0.42 + 0.1 * diameter) * rng.uniform(0.9, 1.05)
        lobes = []
        if diameter >= 3.0 and rng.random() < 0.5:
            for angle in rng.uniform(0, 2 * math.pi, int(rng.integers(2, 4))):
                offset = 0.5 * radius * np.array([math.cos(angle), math.sin(angle)])
                lobes.append((center + offset, radius * rng.uniform(0.45, 0.65)))
        nodules.append((side, diameter, center, radius, peak, lobes))

    def draw(scene: Scene) -> Layer:
        fill, mask = scene.zeros(), np.zeros(scene.x.shape, bool)
        for side, _, center, radius, peak, lobes in nodules:
            for middle, size in [(center, radius), *lobes]:
                ball = blur(scene, disk(scene, middle, size), 0.05 * size)
                fill = np.maximum(fill, peak * ball * scene.lungs[side])
                mask |= disk(scene, middle, size * 1.05) > 0
        return Layer(mask=mask & (np.clip(scene.lungs[0] + scene.lungs[1], 0, 1) > 0.5), fill=fill)

    summary = {
        "side": side_name(sorted({n[0] for n in nodules})),
        "zone": "lung",
        "diameter_cm": [round(n[1], 2) for n in nodules],
    }
    return Drawn(summary, draw)


def _basal_peripheral(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _smooth(v, 0.35, 0.8) * (0.35 + 0.65 * _smooth(u, 0.35, 0.85))


def fibrosis(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """Reticular lines (and sometimes honeycomb cysts), basal and peripheral, with volume loss."""
    sides = [RIGHT, LEFT] if rng.random() < 0.8 else [RIGHT if rng.random() < 0.5 else LEFT]
    width, peak, haze = rng.uniform(0.006, 0.01), rng.uniform(0.4, 0.65), rng.uniform(0.2, 0.35)
    nets = {}
    for side in sides:
        weight = _basal_peripheral(grid.u[side], grid.v[side]) * grid.inside[side]
        points = _weighted_points(rng, grid, weight, int(rng.integers(250, 450)))
        segments = []
        for point in points:
            distance = np.hypot(*(points - point).T)
            for other in np.argsort(distance)[1 : int(rng.integers(3, 5))]:
                if distance[other] < 0.07:
                    segments.append((np.stack([point, points[other]]), width))
        if rng.random() < 0.4:
            cysts = _weighted_points(
                rng, grid, weight**3 * (grid.u[side] > 0.7), int(rng.integers(8, 20))
            )
            theta = np.linspace(0, 2 * math.pi, 13)[:, None]
            for point in cysts:
                ring = point + rng.uniform(0.012, 0.028) * np.hstack([np.cos(theta), np.sin(theta)])
                segments.append((ring, width))
        nets[side] = (segments, rng.uniform(0.03, 0.09))

    def draw(scene: Scene) -> Layer:
        fill, mask = scene.zeros(), np.zeros(scene.x.shape, bool)
        for side, (segments, rise) in nets.items():
            lines = blur(scene, np.clip(draw_lines(scene.canvas, segments, peak), 0.0, peak), 0.003)
            top, bottom = scene.chest.apex_y[side], chest.base_y[side]
            u = np.clip((np.abs(scene.x) - 0.15) / (chest.half_width[side] - 0.15), 0, 1)
            cloud = haze * _basal_peripheral(u, (scene.y - top) / (bottom - top))
            fill = np.maximum(fill, np.maximum(lines, cloud) * visible_lung(scene, side))
            reach = max(1, round(0.035 * scene.canvas.unit_px))
            near = cv2.dilate(
                (lines > 0.05).astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8)
            )
            mask |= (near > 0) & (visible_lung(scene, side) > 0.5)
            mask |= volume_loss_mask(scene, chest, side, rise)
        return Layer(mask=mask, fill=fill)

    def modify(current: Chest) -> Chest:
        for side, (_, rise) in nets.items():
            current = anatomy.elevated(current, side, rise)
        return current

    return Drawn({"side": side_name(sides), "zone": "basal peripheral"}, draw, modify)


def _weighted_points(
    rng: np.random.Generator, grid: LungGrid, weight: np.ndarray, count: int
) -> np.ndarray:
    flat = weight.ravel().astype(np.float64)
    picks = rng.choice(flat.size, size=count, p=flat / flat.sum())
    jitter = rng.uniform(-0.5, 0.5, (count, 2)) * grid.STEP
    return np.stack([grid.x.ravel()[picks], grid.y.ravel()[picks]], axis=1) + jitter


def infiltration(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """Patchy, ill-defined, fairly faint opacities (no air bronchograms), one or both lungs."""
    sides = pick_sides(rng, 0.4)
    zones = {
        "perihilar": lambda u, v: (u < 0.55) & (v > 0.3) & (v < 0.75),
        "lower": lambda u, v: v > 0.55,
        "upper": lambda u, v: v < 0.42,
        "mid": lambda u, v: (v > 0.3) & (v < 0.7),
    }
    pattern = str(rng.choice(list(zones), p=[0.35, 0.3, 0.15, 0.2]))
    patches = []
    for side in sides:
        for _ in range(int(rng.integers(3, 7))):
            center = grid.sample(rng, side, zones[pattern], margin=0.03)
            patches.append(
                (
                    side,
                    center,
                    rng.uniform(0.08, 0.2),
                    rng.uniform(0.35, 0.6),
                    int(rng.integers(2**31)),
                )
            )

    def draw(scene: Scene) -> Layer:
        fill = scene.zeros()
        for side, center, radius, peak, seed in patches:
            blob = blur(scene, (disk(scene, center, radius) > 0).astype(np.float32), 0.45 * radius)
            patchy = np.clip(0.5 + 0.6 * smooth_noise(scene, np.random.default_rng(seed), 14), 0, 1)
            fill = np.maximum(fill, peak * blob * patchy * visible_lung(scene, side))
        return Layer(mask=fill > 0.12, fill=fill)

    return Drawn({"side": side_name(sides), "zone": pattern, "patches": len(patches)}, draw)


def calcification(rng: np.random.Generator, chest: Chest, grid: LungGrid) -> Drawn:
    """Small, very dense foci: calcified hilar nodes or parenchymal granulomas (4-9 mm)."""
    kind = str(rng.choice(["hilar", "parenchymal"], p=[0.4, 0.6]))
    foci = []
    if kind == "hilar":
        for side in pick_sides(rng, 0.35):
            root = anatomy.hilum(chest, side)
            for _ in range(int(rng.integers(1, 5))):
                offset = np.array([SIGN[side] * rng.uniform(-0.02, 0.07), rng.uniform(-0.06, 0.08)])
                foci.append((side, root + offset))
    else:
        for _ in range(int(rng.integers(1, 4))):
            side = RIGHT if rng.random() < 0.5 else LEFT
            foci.append((side, grid.sample(rng, side, lambda u, v: v < 0.85, margin=0.03)))
    shapes = []
    for side, center in foci:
        radius = radius_units(chest, rng.uniform(0.4, 0.9))
        parts = [(center, radius)]
        for angle in rng.uniform(0, 2 * math.pi, int(rng.integers(0, 3))):  # "popcorn"
            parts.append(
                (
                    center + 0.45 * radius * np.array([math.cos(angle), math.sin(angle)]),
                    0.6 * radius,
                )
            )
        shapes.append((side, parts, rng.uniform(0.45, 0.8)))

    def draw(scene: Scene) -> Layer:
        dense, fill = scene.zeros(), scene.zeros()
        mask = np.zeros(scene.x.shape, bool)
        for _, parts, density in shapes:
            for center, radius in parts:
                focus = blur(scene, disk(scene, center, radius, 0.35), 0.12 * radius)
                dense = np.maximum(dense, density * focus)
                fill = np.maximum(fill, np.clip(2 * focus, 0, 1))
                mask |= disk(scene, center, radius + 0.015) > 0
        return Layer(mask=mask, fill=fill, dense=dense)

    summary = {"side": side_name(sorted({s for s, _ in foci})), "zone": kind, "foci": len(foci)}
    return Drawn(summary, draw)
