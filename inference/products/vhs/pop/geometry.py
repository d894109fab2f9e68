"""Quadrilateral geometry of a photographed screen (numpy only: the web tier imports it).

* ``check_corners``: is a client's ``corners`` a usable screen outline?  The rules a
  ``/v3/rectify`` request is held to, each with its own message for a 400.
* ``ordered``: four points in TL, TR, BR, BL order, whatever order they came in.
* ``rectangle_aspect``: the width/height of the rectangle a perspective quadrilateral shows
  (Zhang & He 2007, "Whiteboard scanning and image enhancement"), with the principal point at
  the photo's centre; what ``rectify`` sizes its output by.
* ``tilt_degrees``: the angle between the screen's normal and the camera's axis.
* ``jaccard``: the SmartDoc 2015 document-localisation score of a found quadrilateral.

Coordinates are continuous pixels: the image spans ``[0, width] x [0, height]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Corners may lie this fraction of the image's width/height outside it (a screen edge
#: just out of frame), no further.
OUTSIDE_TOLERANCE = 0.05
#: The quadrilateral must cover at least this fraction of the image's area...
MIN_AREA_FRACTION = 0.01
#: ...and each side must be at least this many pixels long.
MIN_SIDE_PX = 8.0
#: Focal length assumed when the corners cannot tell it (a screen seen nearly face on):
#: a phone's main camera, about 26 mm equivalent, is 0.6 x the image diagonal; 0.8 allows for
#: the digital zoom people use.
DEFAULT_FOCAL_DIAGONALS = 0.8
#: Focal lengths (in image diagonals) believed from the corners; outside, the default is used
#: (an estimate out there means the corners barely constrain it).
FOCAL_RANGE = (0.5, 1.5)

Points = list[tuple[float, float]]


def _as_array(corners: object) -> np.ndarray | str:
    if not isinstance(corners, Sequence) or isinstance(corners, str | bytes):
        return "corners must be a list of four [x, y] points"
    if len(corners) != 4:
        return f"corners must hold exactly four [x, y] points, got {len(corners)}"
    points = []
    for index, point in enumerate(corners):
        if (
            not isinstance(point, Sequence)
            or isinstance(point, str | bytes)
            or len(point) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
        ):
            return f"corner {index} must be an [x, y] pair of numbers"
        if not all(math.isfinite(float(v)) for v in point):
            return f"corner {index} must be finite numbers, got {list(point)}"
        points.append((float(point[0]), float(point[1])))
    return np.array(points, np.float64)


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def polygon_area(points: np.ndarray) -> float:
    """Signed shoelace area (positive for clockwise on screen: y points down)."""
    x, y = points[:, 0], points[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def check_corners(corners: object, width: int, height: int) -> str | None:
    """None when ``corners`` outline a usable screen in a ``width`` x ``height`` image, else
    the reason, for a 400.

    Rules: four finite ``[x, y]`` numbers; each within ``OUTSIDE_TOLERANCE`` (5 %) of the
    image's width/height outside it; a simple (not self-intersecting), strictly convex
    quadrilateral; at least ``MIN_AREA_FRACTION`` (1 %) of the image's area and sides of at
    least ``MIN_SIDE_PX``; and in TL, TR, BR, BL order, i.e. clockwise on screen with the
    first corner the top-left one.  Points in another order are refused, not reordered: a
    client that sends them shuffled has a bug a silent fix would hide (``ordered`` is there
    for callers that want to reorder on purpose).
    """
    points = _as_array(corners)
    if isinstance(points, str):
        return points
    margin_x, margin_y = OUTSIDE_TOLERANCE * width, OUTSIDE_TOLERANCE * height
    for index, (x, y) in enumerate(points):
        if not (-margin_x <= x <= width + margin_x and -margin_y <= y <= height + margin_y):
            return (
                f"corner {index} ({x:g}, {y:g}) lies outside the {width} x {height} image "
                f"(at most 5 % of its size outside is allowed)"
            )
    signs = [_cross(points[i], points[(i + 1) % 4], points[(i + 2) % 4]) for i in range(4)]
    if _self_intersecting(points):
        return "corners must outline a simple quadrilateral: two of its sides cross"
    if not (all(s > 0 for s in signs) or all(s < 0 for s in signs)):
        return "corners must outline a convex quadrilateral"
    sides = [float(np.linalg.norm(points[(i + 1) % 4] - points[i])) for i in range(4)]
    area = abs(polygon_area(points))
    if area < MIN_AREA_FRACTION * width * height or min(sides) < MIN_SIDE_PX:
        return (
            f"corners outline a quadrilateral too small to rectify ({area:.0f} px²; at least "
            f"1 % of the image and sides of {MIN_SIDE_PX:g} px are needed)"
        )
    if signs[0] < 0:
        return "corners must be ordered TL, TR, BR, BL (clockwise); these run anticlockwise"
    if int(np.argmin(points.sum(axis=1))) != 0:
        return "corners must be ordered TL, TR, BR, BL: the first one is not the top-left"
    return None


def _segments_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    d1, d2 = _cross(c, d, a), _cross(c, d, b)
    d3, d4 = _cross(a, b, c), _cross(a, b, d)
    return d1 * d2 < 0 and d3 * d4 < 0


def _self_intersecting(points: np.ndarray) -> bool:
    return _segments_cross(points[0], points[1], points[2], points[3]) or _segments_cross(
        points[1], points[2], points[3], points[0]
    )


def ordered(points: object) -> Points:
    """Four points as TL, TR, BR, BL: sorted clockwise about their centre, starting from
    the one nearest the top-left (smallest x + y)."""
    array = np.asarray(points, np.float64).reshape(4, 2)
    centre = array.mean(axis=0)
    angles = np.arctan2(array[:, 1] - centre[1], array[:, 0] - centre[0])
    clockwise = array[np.argsort(angles)]  # y down: increasing angle runs clockwise
    start = int(np.argmin(clockwise.sum(axis=1)))
    return [(float(x), float(y)) for x, y in np.roll(clockwise, -start, axis=0)]


def side_lengths(corners: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """Top, right, bottom, left side lengths."""
    p = np.asarray(corners, np.float64)
    top, right, bottom, left = (float(np.linalg.norm(p[(i + 1) % 4] - p[i])) for i in range(4))
    return top, right, bottom, left


def _focal_and_normals(
    corners: Sequence[Sequence[float]], width: int, height: int
) -> tuple[float | None, np.ndarray, np.ndarray]:
    """Zhang & He's focal length estimate (None when the corners do not determine it) and
    the two vectors n2, n3 their aspect ratio is read from."""
    tl, tr, br, bl = (np.array([x - width / 2, y - height / 2, 1.0]) for x, y in corners)
    m1, m2, m3, m4 = tl, tr, bl, br  # Zhang's numbering: (0,0), (w,0), (0,h), (w,h)
    k2 = np.dot(np.cross(m1, m4), m3) / np.dot(np.cross(m2, m4), m3)
    k3 = np.dot(np.cross(m1, m4), m2) / np.dot(np.cross(m3, m4), m2)
    n2, n3 = k2 * m2 - m1, k3 * m3 - m1
    focal = None
    if abs(n2[2]) > 1e-9 and abs(n3[2]) > 1e-9:
        squared = -(n2[0] * n3[0] + n2[1] * n3[1]) / (n2[2] * n3[2])
        diagonal = math.hypot(width, height)
        if (
            squared > 0
            and FOCAL_RANGE[0] * diagonal < math.sqrt(squared) < FOCAL_RANGE[1] * diagonal
        ):
            focal = math.sqrt(squared)
    return focal, n2, n3


def focal_length(corners: Sequence[Sequence[float]], width: int, height: int) -> float:
    """The camera's focal length in pixels as the corners tell it, else the default."""
    focal, _, _ = _focal_and_normals(corners, width, height)
    return focal if focal is not None else DEFAULT_FOCAL_DIAGONALS * math.hypot(width, height)


def rectangle_aspect(corners: Sequence[Sequence[float]], width: int, height: int) -> float:
    """Width / height of the rectangle whose photo these corners are.

    Zhang & He's formula with the focal length the corners determine, or the default one;
    a screen seen nearly face on (where neither matters) falls back to the mean of opposite
    sides.
    """
    top, right, bottom, left = side_lengths(corners)
    naive = (top + bottom) / max(right + left, 1e-9)
    focal = focal_length(corners, width, height)
    _, n2, n3 = _focal_and_normals(corners, width, height)
    inverse = np.diag([1 / focal**2, 1 / focal**2, 1.0])
    across, down = float(n2 @ inverse @ n2), float(n3 @ inverse @ n3)
    if not (across > 0 and down > 0 and math.isfinite(across / down)):
        return naive
    aspect = math.sqrt(across / down)
    # Far from the naive ratio means the formula is ill-conditioned here; trust the sides.
    return aspect if 0.6 < aspect / naive < 1.6 else naive


def tilt_degrees(corners: Sequence[Sequence[float]], width: int, height: int) -> float:
    """The angle between the screen's normal and the optical axis (0: face on)."""
    focal = focal_length(corners, width, height)
    intrinsic = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])
    unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    homography = homography_from(unit, np.asarray(corners, np.float64))
    columns = np.linalg.solve(intrinsic, homography)
    r1, r2 = columns[:, 0], columns[:, 1]
    normal = np.cross(r1 / np.linalg.norm(r1), r2 / np.linalg.norm(r2))
    cosine = abs(normal[2]) / max(float(np.linalg.norm(normal)), 1e-12)
    return round(math.degrees(math.acos(min(1.0, cosine))), 1)


def homography_from(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 3 x 3 homography taking four ``source`` points to four ``target`` points."""
    rows = []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(rows, np.float64))
    matrix = vt[-1].reshape(3, 3)
    return matrix / matrix[2, 2]


def apply_homography(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float64)
    mapped = np.c_[points, np.ones(len(points))] @ matrix.T
    return mapped[:, :2] / mapped[:, 2:3]


def _clip(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: ``subject`` polygon clipped by the convex ``clip`` polygon."""
    output = list(subject)
    orientation = 1.0 if polygon_area(clip) > 0 else -1.0
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]
        current, output = output, []
        if not current:
            break

        def side(p: np.ndarray, a: np.ndarray = a, b: np.ndarray = b) -> float:
            return orientation * _cross(a, b, p)

        for j in range(len(current)):
            p, q = current[j], current[(j + 1) % len(current)]
            if side(q) >= 0:
                if side(p) < 0:
                    output.append(_intersection(p, q, a, b))
                output.append(q)
            elif side(p) >= 0:
                output.append(_intersection(p, q, a, b))
    return np.array(output) if output else np.empty((0, 2))


def _intersection(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d1, d2 = q - p, b - a
    denominator = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(denominator) < 1e-15:
        return q
    t = ((a[0] - p[0]) * d2[1] - (a[1] - p[1]) * d2[0]) / denominator
    return p + t * d1


def jaccard(found: Sequence[Sequence[float]], truth: Sequence[Sequence[float]]) -> float:
    """SmartDoc 2015's score: both quadrilaterals mapped into the truth's rectified frame
    (the homography taking the truth's corners to a unit square), then area of intersection
    over area of union there.  A convex ``found`` is assumed (``check_corners`` holds)."""
    truth_array = np.asarray(truth, np.float64)
    unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    to_frame = homography_from(truth_array, unit)
    mapped = apply_homography(to_frame, np.asarray(found, np.float64))
    if not np.all(np.isfinite(mapped)) or polygon_area(mapped) <= 0:
        return 0.0
    inter = _clip(mapped, unit)
    inter_area = abs(polygon_area(inter)) if len(inter) >= 3 else 0.0
    union = abs(polygon_area(mapped)) + 1.0 - inter_area
    return float(inter_area / union) if union > 0 else 0.0
