"""The normal chest of the chest radiograph phantoms (``inference.phantoms.cxr``): geometry.

A PA chest is laid out in a *canonical* frame: ``x`` runs across the image (negative is the
patient's right, shown on the image's left, as PA films are read), ``y`` runs down, and the
unit is half the internal thoracic width at its widest (so the cage spans about -1..1 and the
cardiothoracic ratio is the heart's width over 2).  Every structure is a polygon or polyline
there; ``radiograph_drawing.Canvas`` maps them to pixels through one affine map, so lesion
masks, boxes and the CTR are exact by construction whatever the framing.

Sides are indexed 0 = right (drawn at negative x) and 1 = left; ``SIGN[side]`` gives the
direction of lateral.  Rendering lives in ``cxr_render``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SIGN = (-1.0, 1.0)
RIGHT, LEFT = 0, 1
POSTERIOR_RIBS = 10
CTR_NORMAL = (0.38, 0.48)


def spline(points: np.ndarray | list, per_segment: int = 10, closed: bool = False) -> np.ndarray:
    """A Catmull-Rom curve through ``points`` (it passes through every control point)."""
    p = np.asarray(points, np.float64)
    if closed:
        ext = np.vstack([p[-1], p, p[0], p[1]])
    else:
        ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    p0, p1, p2, p3 = (ext[k : len(ext) - 3 + k, None, :] for k in range(4))
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[None, :, None]
    curve = 0.5 * (
        2 * p1
        + (p2 - p0) * t
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
        + (3 * p1 - p0 - 3 * p2 + p3) * t**3
    )
    curve = curve.reshape(-1, 2)
    return curve if closed else np.vstack([curve, p[-1]])


@dataclass(frozen=True)
class Chest:
    """One patient's chest in canonical units (see the module docstring); pairs are (R, L)."""

    half_width: tuple[float, float]  # internal half width of each hemithorax (~1)
    apex_y: tuple[float, float]  # top of each lung apex
    base_y: tuple[float, float]  # lateral costophrenic angles
    floor_y: tuple[float, float]  # base_y before any volume loss: the heart rests on it
    dome_rise: tuple[float, float]  # dome peak above the costophrenic angle
    dome_x: tuple[float, float]  # dome peak, as a fraction of the half width
    heart_right: float  # right heart border's extent from the midline
    heart_left: float  # left (ventricular) border's extent
    heart_top: float  # where the cardiac borders leave the mediastinum
    carina_y: float
    knob: float  # aortic knob prominence
    chest_wall: float  # soft tissue beyond the ribs
    unit_cm: float  # centimetres per unit: sizes lesions in real terms
    rib_start: float  # first posterior rib's origin
    rib_step: float  # posterior rib spacing
    arms: float  # arm position: 0 out of the frame .. 1 close to the chest wall
    scapula: float  # how far the scapulae overlap the lung fields (0 none)
    breasts: float  # 0 for none
    stomach_bubble: float  # gastric air under the left dome (0 none)
    clavicle_tilt: float  # patient rotation: clavicle heads shift (units)
    texture_seed: int

    def width_at(self, side: int, y: float) -> float:
        """The lung's lateral border (|x|) at height ``y``; used to end the ribs on it."""
        lateral = _lung_parts(self, side)[0]
        lower = lateral[np.argmin(lateral[:, 1]) :]  # from the apex's top down
        return float(np.interp(y, lower[:, 1], lower[:, 0]))


def sample_chest(rng: np.random.Generator) -> Chest:
    """A normal adult chest: inspiration, heart size, habitus and positioning vary."""
    height = rng.uniform(1.65, 2.0)
    right_cp = height + rng.normal(0.0, 0.02)
    left_cp = right_cp + rng.uniform(0.0, 0.07)  # the left dome usually sits lower
    return Chest(
        half_width=(rng.uniform(0.97, 1.01), rng.uniform(0.97, 1.01)),
        apex_y=(rng.uniform(-0.02, 0.03), rng.uniform(-0.02, 0.03)),
        base_y=(right_cp, left_cp),
        floor_y=(right_cp, left_cp),
        dome_rise=(rng.uniform(0.2, 0.32), rng.uniform(0.16, 0.28)),
        dome_x=(rng.uniform(0.4, 0.52), rng.uniform(0.42, 0.54)),
        heart_right=0.0,
        heart_left=0.0,
        heart_top=rng.uniform(0.8, 0.92),
        carina_y=rng.uniform(0.52, 0.64),
        knob=rng.uniform(0.02, 0.08),
        chest_wall=rng.uniform(0.1, 0.32),
        unit_cm=rng.uniform(13.5, 16.0),
        rib_start=rng.uniform(-0.06, 0.0),
        rib_step=height / rng.uniform(9.6, 10.4),
        arms=float(rng.choice([0.0, rng.uniform(0.3, 1.0)], p=[0.4, 0.6])),
        scapula=float(rng.choice([0.0, rng.uniform(0.05, 0.2)], p=[0.6, 0.4])),
        breasts=0.0,
        stomach_bubble=float(rng.choice([0.0, rng.uniform(0.6, 1.3)], p=[0.3, 0.7])),
        clavicle_tilt=rng.normal(0.0, 0.025),
        texture_seed=int(rng.integers(2**31)),
    )


def with_ctr(chest: Chest, ctr: float) -> Chest:
    """The same chest with its heart scaled so the drawn outline measures ``ctr`` exactly."""
    chest = dataclasses.replace(chest, heart_right=0.34 * ctr * 2, heart_left=0.66 * ctr * 2)
    for _ in range(4):  # the spline's overshoot is nearly linear: converges in 2-3 steps
        factor = ctr / cardiothoracic_ratio(chest)
        chest = dataclasses.replace(
            chest, heart_right=chest.heart_right * factor, heart_left=chest.heart_left * factor
        )
    return chest


def elevated(chest: Chest, side: int, amount: float) -> Chest:
    """Volume loss: that hemidiaphragm (and its costophrenic angle) raised by ``amount``."""
    base = list(chest.base_y)
    base[side] -= amount
    return dataclasses.replace(chest, base_y=(base[0], base[1]))


# --- outlines -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _lung_parts(chest: Chest, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The lateral border (apex -> costophrenic angle) and the dome (lateral -> medial), |x|."""
    w, top, cp = chest.half_width[side], chest.apex_y[side], chest.base_y[side]
    rise, span = chest.dome_rise[side], chest.base_y[side] - chest.apex_y[side]
    lateral = [
        (0.14, top + 0.12),
        (0.24, top + 0.025),
        (0.38, top),
        (0.54, top + 0.035),
        (0.7, top + 0.13),
        (0.84 * w, top + 0.3),
        (0.94 * w, top + 0.5),
        (0.99 * w, top + 0.7 * span),
        (w, top + 0.86 * span),
        (0.97 * w, cp),
    ]
    dome = [
        (0.97 * w, cp),
        (0.9 * w, cp - 0.38 * rise),
        (0.78 * w, cp - 0.72 * rise),
        (0.64 * w, cp - 0.93 * rise),
        (chest.dome_x[side] * w, cp - rise),
        (0.3, cp - 0.96 * rise),
        (0.14, cp - 0.86 * rise),
        (0.04, cp - 0.76 * rise),
    ]
    return spline(lateral, 8), spline(dome, 8)


def lung_outline(chest: Chest, side: int, column: bool = False) -> np.ndarray:
    """One lung field, lateral border first (apex -> costophrenic angle), then the dome.

    The medial border runs near the midline: the mediastinum covers it.  ``column=True``
    replaces the diaphragm by a line far below, the shape whose distance map gives the air
    depth, so moving a hemidiaphragm changes only the pixels between its two positions.
    """
    lateral, dome = _lung_parts(chest, side)
    top, cp = chest.apex_y[side], chest.base_y[side]
    if column:
        below = [(lateral[-1, 0], cp + 2.0), (0.04, cp + 2.0), (0.05, top + 0.5)]
        points = np.vstack([lateral, below])
    else:
        points = np.vstack([lateral, dome[1:], [(0.05, top + 0.5)]])
    return points * np.array([SIGN[side], 1.0])


def dome_y(chest: Chest, side: int, x: np.ndarray | float) -> np.ndarray:
    """The diaphragm's height under ``x`` (canonical, signed) on that side."""
    dome = _lung_parts(chest, side)[1]
    return np.interp(np.abs(x), dome[::-1, 0], dome[::-1, 1])


def hilum(chest: Chest, side: int) -> np.ndarray:
    """Where the pulmonary artery enters the lung: the left hilum sits higher."""
    drop = 0.3 if side == RIGHT else 0.2
    return np.array([SIGN[side] * 0.27, chest.carina_y + drop])


def _heart_borders(chest: Chest) -> tuple[np.ndarray, np.ndarray]:
    """The right border (top down) and the left border (top down) of the cardiac silhouette."""
    right, left, top = chest.heart_right, chest.heart_left, chest.heart_top
    floor = dataclasses.replace(chest, base_y=chest.floor_y)  # a raised dome moves no heart
    right_bottom = float(dome_y(floor, RIGHT, -0.8 * right)) + 0.03
    left_bottom = float(dome_y(floor, LEFT, 0.92 * left)) + 0.02
    rh, lh = right_bottom - top, left_bottom - top
    right_border = [
        (-0.17, top - 0.08),
        (-0.55 * right - 0.05, top + 0.12 * rh),
        (-0.93 * right, top + 0.38 * rh),
        (-right, top + 0.62 * rh),
        (-0.93 * right, top + 0.86 * rh),
        (-0.8 * right, right_bottom),
    ]
    left_border = [
        (0.25, top - 0.1),
        (0.3 + 0.2 * (left - 0.5), top + 0.06 * lh),
        (0.72 * left, top + 0.3 * lh),
        (0.95 * left, top + 0.58 * lh),
        (left, top + 0.8 * lh),
        (0.94 * left, left_bottom),
    ]
    return spline(right_border, 8), spline(left_border, 8)


def mediastinum_outline(chest: Chest) -> np.ndarray:
    """The soft tissue between the lungs: neck, great vessels, aortic knob, heart, closed.

    It continues below the diaphragm (all soft tissue there anyway), so it is one polygon.
    """
    right_border, left_border = _heart_borders(chest)
    knob_y = chest.carina_y - 0.06
    right = np.vstack(
        [
            [(-0.2, -1.5), (-0.19, -0.12)],
            spline([(-0.15, 0.15), (-0.165, 0.45), (-0.18, chest.heart_top - 0.2)], 6),
            right_border,
            [(right_border[-1, 0], 3.0)],
        ]
    )
    knob = 0.25 + chest.knob
    upper_left = spline(
        [
            (0.27, chest.heart_top - 0.14),
            (knob - 0.02, knob_y + 0.08),
            (knob, knob_y),
            (knob - 0.04, knob_y - 0.08),
            (0.15, knob_y - 0.2),
            (0.16, -0.12),
        ],
        6,
    )
    left = np.vstack([[(left_border[-1, 0], 3.0)], left_border[::-1], upper_left, [(0.2, -1.5)]])
    return np.vstack([right, left])


def heart_outline(chest: Chest) -> np.ndarray:
    """The cardiac silhouette alone (borders, closed along the diaphragm): its mask."""
    right_border, left_border = _heart_borders(chest)
    bottom = np.linspace(right_border[-1], left_border[-1], 12)
    bottom[:, 1] += 0.06 * np.sin(np.linspace(0.0, math.pi, 12))
    return np.vstack([right_border, bottom[1:-1], left_border[::-1]])


def cardiothoracic_ratio(chest: Chest) -> float:
    """Widest heart over widest internal thorax, both measured on the drawn outlines."""
    right_border, left_border = _heart_borders(chest)
    heart = float(left_border[:, 0].max() - right_border[:, 0].min())
    thorax = float(lung_outline(chest, LEFT)[:, 0].max() - lung_outline(chest, RIGHT)[:, 0].min())
    return heart / thorax


def body_outline(chest: Chest) -> np.ndarray:
    """Neck, shoulders, chest wall and flanks, as one closed outline."""
    wall = 1.0 + chest.chest_wall
    half = [
        (0.3, -1.6),
        (0.33, -0.5),
        (0.55, -0.3),
        (1.0, -0.2),
        (1.3, -0.08),
        (1.42, 0.1),
        (wall + 0.05, 0.55),
        (wall + 0.02, 1.2),
        (wall - 0.02, 1.9),
        (wall - 0.03, 3.5),
    ]
    right = spline([(-x, y) for x, y in half], 6)
    left = spline([(x, y) for x, y in half[::-1]], 6)
    return np.vstack([right, left])


def arm_outline(chest: Chest, side: int) -> np.ndarray:
    """An arm hanging beside the chest (or out of the frame when ``arms`` is 0)."""
    gap = 0.12 + (1.0 - chest.arms) * 0.5
    inner = 1.0 + chest.chest_wall + gap
    half = [(inner, 0.35), (inner + 0.05, 1.0), (inner + 0.1, 2.2)]
    outer = [(x + 0.38, y) for x, y in half[::-1]]
    points = [(1.25, -0.05), *half, *outer, (1.5, -0.1)]
    return np.array([(SIGN[side] * x, y) for x, y in points])


def rib(chest: Chest, side: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Rib ``index`` (0 = first): its posterior arc and its anterior arc, which overlap.

    The posterior arc leaves the spine, arches up and laterally and turns down along the
    lateral wall; the anterior arc continues from inside that turn, running down and
    medially to the costal cartilage (which does not show).  One curve cut in two, so the
    rib has no visible end at the chest wall.
    """
    y = chest.rib_start + chest.rib_step * index
    if index == 0:  # the first rib hugs the apex and ends under the clavicle
        points = [(0.07, y), (0.18, y - 0.04), (0.32, y - 0.045), (0.45, y + 0.02)]
        points += [(0.5, y + 0.1), (0.44, y + 0.19), (0.3, y + 0.24)]
        cut = 4
    else:
        w = chest.width_at(side, y + 0.2) + 0.035
        lower = 0.015 * index
        points = [
            (0.07, y),
            (0.25, y - 0.045),
            (0.5 * w, y - 0.035),
            (0.75 * w, y + 0.02),
            (0.93 * w, y + 0.12),
            (w, y + 0.26),
            (0.97 * w, y + 0.38),
            (0.82 * w, y + 0.48 + lower),
            (0.62 * w, y + 0.6 + lower),
            (0.42 + lower, y + 0.7 + 2 * lower),
        ]
        cut = 6
    curve = np.array([(SIGN[side] * x, py) for x, py in spline(points, 6)])
    split = cut * 6
    return curve[: split + 1], curve[split - 3 :]


def clavicle(chest: Chest, side: int) -> np.ndarray:
    """An S-shaped clavicle from the sternal head out over the apex to the acromion."""
    head = 0.1 + SIGN[side] * chest.clavicle_tilt
    points = [(head, 0.17), (0.3, 0.13), (0.55, 0.11), (0.8, 0.07), (1.0, -0.01), (1.18, -0.03)]
    return np.array([(SIGN[side] * x, y) for x, y in spline(points, 6)])


def scapula(chest: Chest, side: int) -> np.ndarray:
    """The scapula's projection: only its medial border reaches into the lung field."""
    medial = 1.02 - chest.scapula
    points = [(1.2, -0.02), (medial, 0.05), (medial - 0.05, 0.45), (medial + 0.1, 0.8)]
    points += [(1.25, 0.35)]
    return np.array([(SIGN[side] * x, y) for x, y in points])


def trachea(chest: Chest) -> tuple[np.ndarray, list[np.ndarray]]:
    """The tracheal air column to the carina and the two main bronchi."""
    carina = np.array([0.0, chest.carina_y])
    column = np.array([(0.0, -1.5), (-0.012, -0.2), (-0.02, chest.carina_y - 0.1), carina])
    right = carina + np.array([(0.0, 0.0), (-0.13, 0.16), (-0.22, 0.3)])
    left = carina + np.array([(0.0, 0.0), (0.18, 0.12), (0.3, 0.24)])
    return column, [right, left]


def vessel_tree(chest: Chest, rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    """Pulmonary vessels branching from each hilum: (polyline, width in units) pairs.

    Monopodial, like real arteries: each vessel runs on, a little narrower, and gives off a
    smaller side branch at a wider angle.  Bigger towards the bases (blood goes where gravity
    sends it) and tapering outwards, so the lateral third of each lung has almost no
    markings, as on a real film.
    """
    segments: list[tuple[tuple[float, ...], float]] = []
    for side in (RIGHT, LEFT):
        sign, root = SIGN[side], hilum(chest, side)
        # The pulmonary artery from the mediastinum to the hilum, then the interlobar artery
        # running down: together they make the hilar shadow.
        start = (sign * 0.13, chest.carina_y + (0.2 if side == RIGHT else 0.06))
        lower = (root[0] + sign * 0.04, root[1] + 0.24)
        segments.append(((*start, (start[0] + root[0]) / 2, root[1] - 0.04, *root), 0.075))
        segments.append(((*root, root[0] + sign * 0.03, root[1] + 0.12, *lower), 0.055))
        # Trunks (degrees from straight up towards lateral): upper ones from the hilum,
        # basal ones from the interlobar artery.
        for angle, width, origin in (
            (-10, 0.03, root),
            (25, 0.032, root),
            (60, 0.03, root),
            (95, 0.032, root),
            (110, 0.036, lower),
            (140, 0.04, lower),
            (165, 0.038, lower),
            (190, 0.03, lower),
        ):
            theta = math.radians(angle + rng.normal(0.0, 10.0))
            heading = math.atan2(-math.cos(theta), sign * math.sin(theta))
            x, y = np.asarray(origin) + rng.normal(0.0, 0.015, 2)
            draws = iter(rng.random((400, 8)).tolist())  # one block per trunk: fast, fixed
            _branch(segments, draws, float(x), float(y), heading, width, rng.uniform(0.075, 0.1), 9)
    return [(np.array(points).reshape(3, 2), width) for points, width in segments]


def _branch(
    out: list[tuple[tuple[float, ...], float]],
    draws: Iterator[list[float]],
    x: float,
    y: float,
    heading: float,
    width: float,
    length: float,
    depth: int,
) -> None:
    bend, turn, keep, side_width, side_length, side_turn, side, branches = next(draws, [0.5] * 8)
    after = heading + 0.25 * (2 * bend - 1)
    mx, my = x + math.cos(heading) * length * 0.5, y + math.sin(heading) * length * 0.5
    ex, ey = mx + math.cos(after) * length * 0.5, my + math.sin(after) * length * 0.5
    out.append(((x, y, mx, my, ex, ey), width))
    if depth <= 0 or width < 0.004:
        return
    sign = 1.0 if side < 0.5 else -1.0
    _branch(
        out,
        draws,
        ex,
        ey,
        after - sign * (0.05 + 0.2 * turn),
        width * (0.8 + 0.1 * keep),
        length * (0.85 + 0.15 * keep),
        depth - 1,
    )
    if branches < 0.9:
        _branch(
            out,
            draws,
            ex,
            ey,
            after + sign * (0.35 + 0.45 * side_turn),
            width * (0.5 + 0.2 * side_width),
            length * (0.7 + 0.25 * side_length),
            depth - 2,
        )
