"""Sub-pixel screen corners: the networks' corners refined on the full photo.

The networks (``pop.network``) know *which* edges are the screen's image area, but the PoP
network sees the photo at 128 pixels (its corners are off by about 1 % of the diagonal) and
the corner network a 64 px crop around each corner (about 0.1 %); ``screen.find_screen``
searches 2 % of the diagonal around the former and 0.6 % around the latter.  Each side of
the quadrilateral is searched on the full-resolution photo: along
48 normals to the side, within ``search`` pixels of it, the strongest gradient across the
side, weighted towards the coarse line (a bezel or a viewer's panel edge further out loses);
a line is fitted to those edge points robustly (least squares, dropping points more than
2.5 median deviations off, three rounds); adjacent lines meet in the refined corners.  Two
rounds, the second with a third of the search width.  A side with too few edge points keeps
its coarse line.

The same profiles give the photo's blur: across a Gaussian-blurred step of height ``C`` the
steepest gradient is ``C / (sigma * sqrt(2 pi))``, so the edge points give ``sigma`` in pixels
(the step measured ``BLUR_REACH`` pixels either side, whatever the search width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SAMPLES_PER_SIDE = 48
MIN_EDGE_SHARE = 0.35  # of a side's samples must find its edge
MIN_STEP = 0.03  # the smallest intensity step (of 1) an edge point may have
_SMOOTHING = 1.0  # sigma of the pre-smoothing, removed from the blur estimate
#: The step an edge point makes is measured this far (px) either side of it: far enough for a
#: strongly blurred edge, whatever the search width.
BLUR_REACH = 8.0


@dataclass(frozen=True)
class Refined:
    corners: np.ndarray  # [4, 2] continuous pixels, TL, TR, BR, BL
    sides_found: int  # how many sides were refined (the rest kept the coarse line)
    blur_px: float | None  # Gaussian sigma of the screen's edges, photo pixels


def _line_fit(points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(point, unit direction) of a robust total-least-squares line through ``points``."""
    keep = np.ones(len(points), bool)
    for _ in range(3):
        if keep.sum() < 4:
            return None
        chosen = points[keep]
        centre = chosen.mean(axis=0)
        _, _, vt = np.linalg.svd(chosen - centre)
        direction, normal = vt[0], vt[1]
        residual = np.abs((points - centre) @ normal)
        spread = np.median(residual[keep]) * 1.4826
        keep = residual <= max(0.75, 2.5 * spread)
    return centre, direction


def _intersect(
    line_a: tuple[np.ndarray, np.ndarray], line_b: tuple[np.ndarray, np.ndarray]
) -> np.ndarray | None:
    (p, d), (q, e) = line_a, line_b
    matrix = np.array([[d[0], -e[0]], [d[1], -e[1]]])
    if abs(np.linalg.det(matrix)) < 1e-6:
        return None
    t, _ = np.linalg.solve(matrix, q - p)
    return p + t * d


class _Sampler:
    """Bilinear samples of the smoothed photo and its gradient (continuous coordinates)."""

    def __init__(self, gray: np.ndarray) -> None:
        self.gray = cv2.GaussianBlur(gray, (0, 0), _SMOOTHING)
        self.gx = cv2.Sobel(self.gray, cv2.CV_32F, 1, 0, ksize=3) / 8.0
        self.gy = cv2.Sobel(self.gray, cv2.CV_32F, 0, 1, ksize=3) / 8.0

    def sample(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        shape = points.shape[:-1]
        coords = (points.reshape(-1, 2) - 0.5).astype(np.float32)
        values = cv2.remap(
            image,
            coords[:, 0].reshape(-1, 1),
            coords[:, 1].reshape(-1, 1),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return values.reshape(shape)


def _side_edges(
    sampler: _Sampler, a: np.ndarray, b: np.ndarray, search: float
) -> tuple[np.ndarray, list[float]]:
    """Edge points along side a->b within ``search`` px of it, and their blur estimates."""
    direction = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
    normal = np.array([-direction[1], direction[0]])
    ts = np.linspace(0.08, 0.92, SAMPLES_PER_SIDE)
    offsets = np.arange(-search, search + 0.25, 0.5)
    bases = a + ts[:, None] * (b - a)
    points = bases[:, None, :] + offsets[None, :, None] * normal
    gradient = (
        sampler.sample(sampler.gx, points) * normal[0]
        + sampler.sample(sampler.gy, points) * normal[1]
    )
    strength = np.abs(gradient) * np.exp(-0.5 * (offsets / (0.6 * search)) ** 2)
    best = strength.argmax(axis=1)
    edges, blurs = [], []
    reach = BLUR_REACH
    for row, index in enumerate(best):
        if index == 0 or index == len(offsets) - 1:
            continue
        left, middle, right = strength[row, index - 1 : index + 2]
        denominator = left - 2 * middle + right
        shift = 0.5 * (left - right) / denominator if denominator < 0 else 0.0
        offset = offsets[index] + 0.5 * float(np.clip(shift, -0.5, 0.5))
        centre = bases[row] + offset * normal
        ends = np.stack([centre - reach * normal, centre + reach * normal])
        step = float(abs(np.diff(sampler.sample(sampler.gray, ends))[0]))
        if step < MIN_STEP:
            continue
        edges.append(centre)
        peak = float(abs(gradient[row, index]))
        if peak > 1e-6:
            sigma = step / (peak * math.sqrt(2 * math.pi))
            blurs.append(math.sqrt(max(sigma**2 - _SMOOTHING**2, 0.0)))
    return np.array(edges).reshape(-1, 2), blurs


def refine(gray: np.ndarray, coarse: np.ndarray, search: float) -> Refined:
    """Refine ``coarse`` corners ([4, 2] continuous pixels) on ``gray`` ([H, W] float32)."""
    sampler = _Sampler(gray.astype(np.float32))
    corners = np.asarray(coarse, np.float64).copy()
    found, blurs = 0, []
    for radius in (search, search / 3):
        lines, found, blurs = [], 0, []
        for side in range(4):
            a, b = corners[side], corners[(side + 1) % 4]
            edges, side_blurs = _side_edges(sampler, a, b, radius)
            line = _line_fit(edges) if len(edges) >= MIN_EDGE_SHARE * SAMPLES_PER_SIDE else None
            if line is None:
                line = (a, (b - a) / max(float(np.linalg.norm(b - a)), 1e-9))
            else:
                found += 1
                blurs += side_blurs
            lines.append(line)
        updated = corners.copy()
        for corner in range(4):  # corner i joins side i-1 and side i
            point = _intersect(lines[corner - 1], lines[corner])
            if point is not None and np.linalg.norm(point - corners[corner]) <= 1.5 * radius:
                updated[corner] = point
        corners = updated
    blur = float(np.median(blurs)) if blurs else None
    return Refined(corners=corners, sides_found=found, blur_px=blur)
