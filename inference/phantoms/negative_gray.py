"""Grayscale non-radiographs for the VHS radiograph classifier: textures, objects, CT/MRI slices.

The radiograph classifier must also reject grayscale images that are not radiographs, and
colour cannot be the cue there.  These families cover what the first classifier wrongly
accepted on real images it never saw (a brick wall, coins on a table, the Shepp-Logan CT
phantom) without copying them: ``texture_gray`` (brick or tile walls, wood, woven cloth,
gravel), ``objects_gray`` (coins, pebbles, buttons or cells, shaded, on a plain ground) and
``cross_section`` (randomised CT or MRI axial slices: medical and grey, but a slice, not a
lateral thoracic projection).  Each is a family with random scale, angle, lighting, noise and
blur, so the classifier learns the kind of image rather than one picture.

``negative_images`` (the entry point, ``draw_negative``) imports the three drawers and the
shared helpers ``smooth_field`` and ``to_u8`` from here; this module imports nothing from it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["cross_section", "objects_gray", "smooth_field", "texture_gray", "to_u8"]


def smooth_field(width: int, height: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth unit-variance noise with blobs about ``size / cells`` wide."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    field = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-6)


def to_u8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats to bytes, rounded."""
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def _finish_gray(image: np.ndarray, rng: np.random.Generator, lit: bool = True) -> np.ndarray:
    """Camera or scanner look on a [0, 1] grey image: exposure, uneven light, blur, noise ->
    uint8.

    Without it every texture would be perfectly lit, contrasty and sharp, an easy cue to learn
    instead of the texture itself.  Exposure matters most: radiographs come at every contrast,
    so a flat, dim photograph must not look "more radiograph" than a crisp one.
    """
    height, width = image.shape
    if rng.random() < 0.6:  # flat or dim or bright: the mid-grey, low-contrast photograph
        level, contrast = rng.uniform(0.3, 0.7), rng.uniform(0.3, 1.2)
        image = level + (image - float(image.mean())) * contrast
    if lit:  # a light falling off across the frame
        angle = rng.uniform(0, 2 * math.pi)
        x = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :] * math.cos(angle)
        y = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None] * math.sin(angle)
        image = image * (1 + rng.uniform(0, 0.6) * (x + y))
    sigma = rng.uniform(0, 2.0) * min(width, height) / 500
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    noise = rng.random(image.shape, np.float32) - 0.5  # uniform: five times as fast as normal
    return to_u8(image + rng.uniform(0.0, 0.17) * noise)


def _rotated_grid(
    width: int, height: int, scale: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates turned by a random angle (half the time near level), over ``scale``."""
    degrees = rng.normal(0, 6) if rng.random() < 0.5 else rng.uniform(0, 180)
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    x = np.arange(width, dtype=np.float32)[None, :] / scale
    y = np.arange(height, dtype=np.float32)[:, None] / scale
    return x * c + y * s, y * c - x * s


def _lattice(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth noise about unit variance sampled at (x, y) in lattice cells; it tiles every 64.

    Sampling in the texture's own turned and stretched frame gives grain and fibres that
    follow the texture, which axis-aligned ``smooth_field`` noise cannot.
    """
    grid = rng.standard_normal((64, 64), np.float32)
    x, y = x - 64 * np.floor(x / 64), y - 64 * np.floor(y / 64)  # remap is slow far outside
    return cv2.remap(grid, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP) * 1.5


def _per_cell(row: np.ndarray, column: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random value in [-1, 1] for each integer (row, column) cell; it repeats every 64."""
    table = rng.uniform(-1, 1, 64 * 64).astype(np.float32)
    return table[(row.astype(np.int32) & 63) * 64 + (column.astype(np.int32) & 63)]


def texture_gray(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A wall, floor or cloth filling the frame: bricks or tiles, wood, a weave or stones.

    Regular, high-contrast grey patterns share a radiograph's palette but none of its anatomy;
    the first classifier accepted a brick wall.  Each pattern is drawn at a few pixels per
    cell (course, ring, thread, stone) and enlarged, so a coarse texture costs no more than a
    fine one; the surface grain, light, blur and noise are added at full size.
    """
    pattern, relative, pixels = _PATTERNS[int(rng.integers(len(_PATTERNS)))]
    cell = min(width, height) * rng.uniform(0.025, 0.1) * relative
    step = max(1.0, cell / pixels)
    small = pattern(math.ceil(width / step), math.ceil(height / step), cell / step, rng)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    image += rng.uniform(0.01, 0.05) * smooth_field(width, height, max(4, width // 3), rng)
    if rng.random() < 0.5:
        image = _in_perspective(image, rng)
    return _finish_gray(image, rng)


def _in_perspective(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The surface seen at an angle, as a phone photographs a wall or a floor: one side of the
    frame shrinks towards a vanishing point (the texture is reflected at the borders)."""
    height, width = image.shape
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    side = int(rng.integers(4))  # which edge recedes
    squeeze = rng.uniform(0.1, 0.35)
    moved = corners.copy()
    first, second = side, (side + 1) % 4
    centre = (corners[first] + corners[second]) / 2
    moved[first] += (centre - corners[first]) * squeeze * 2
    moved[second] += (centre - corners[second]) * squeeze * 2
    warp = cv2.getPerspectiveTransform(corners, moved)
    return cv2.warpPerspective(
        image, warp, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def _bricks(width: int, height: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Courses of bricks or square tiles: mortar joints, a brightness per brick, bevelled edges."""
    u, v = _rotated_grid(width, height, cell, rng)
    length = rng.uniform(1.8, 3.5) if rng.random() < 0.7 else 1.0  # 1: square tiles
    bond = (0.5, 0.5, 0.25, 0.0)[int(rng.integers(4))]  # running, quarter or stack bond
    row = np.floor(v)
    along = u / length + bond * row
    column = np.floor(along)
    fu, fv = (along - column) * length, v - row
    edge = np.minimum(np.minimum(fu, length - fu), np.minimum(fv, 1 - fv))
    face = rng.uniform(0.3, 0.75) + rng.uniform(0.03, 0.15) * _per_cell(row, column, rng)
    face += rng.uniform(0.02, 0.08) * smooth_field(width, height, max(4, width // 3), rng)
    joint = rng.uniform(0.05, 0.12)
    face *= 0.8 + 0.2 * np.clip((edge - joint) / 0.08, 0, 1)  # bevel: darker rims
    mortar = rng.uniform(0.15, 0.9) + 0.04 * smooth_field(width, height, max(4, width // 5), rng)
    return mortar + np.clip((edge - joint) * cell, 0, 1) * (face - mortar)  # edges one pixel soft


def _wood(width: int, height: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Planks of wood: wavy growth rings along each plank, streaky grain, dark joints."""
    u, v = _rotated_grid(width, height, cell, rng)
    plank_width = rng.uniform(4, 12)  # in rings
    plank = np.floor(v / plank_width)
    phase = 4 + 4 * _per_cell(plank, plank, rng)
    rings = v + phase + rng.uniform(0.5, 2.5) * _lattice(u * 0.05 + phase, v * 0.15, rng)
    grain = (0.5 + 0.5 * np.cos(2 * math.pi * rings)) ** rng.uniform(1, 4)
    streaks = _lattice(u * 0.08, v * 3, rng)
    base = rng.uniform(0.3, 0.7) + 0.08 * np.sin(phase)
    image = base - rng.uniform(0.1, 0.3) * grain + 0.04 * streaks
    to_seam = (0.5 - np.abs(v / plank_width - plank - 0.5)) * plank_width * cell  # pixels
    return image * (0.3 + 0.7 * np.clip(to_seam - 0.5, 0, 1))


def _weave(width: int, height: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Woven cloth: threads passing over and under (plain or twill), unevenly spun."""
    u, v = _rotated_grid(width, height, max(2.5, cell), rng)
    i, j = np.floor(u), np.floor(v)
    fu, fv = u - i, v - j
    repeat = int(rng.integers(2, 5))  # 2: plain weave, 3 or 4: twill
    diagonal = i - j
    warp_on_top = diagonal - repeat * np.floor(diagonal / repeat) < max(1, repeat // 2)
    roundness = rng.uniform(0.3, 1.0)
    warp = np.sin(math.pi * fu) ** roundness * (0.85 + 0.15 * np.sin(math.pi * fv))
    weft = np.sin(math.pi * fv) ** roundness * (0.85 + 0.15 * np.sin(math.pi * fu))
    warp_grey, weft_grey = rng.uniform(0.3, 0.9, 2)
    image = np.where(warp_on_top, warp_grey * warp, weft_grey * weft)
    return image * (1 + 0.1 * _lattice(u * 1.5, v * 1.5, rng))  # uneven threads


def _stones(width: int, height: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Gravel or cobbles: rounded stones of different greys, lit from one side, dark gaps.

    Stones are the cells of a jittered-grid Voronoi diagram (one seed per grid square, the
    nearest of the 3x3 around each pixel), warped a little so that they are not polygons.
    """
    x = np.arange(width, dtype=np.float32)[None, :] / cell
    y = np.arange(height, dtype=np.float32)[:, None] / cell
    cells = max(3, int(width / cell / 2))  # a warp two stones wide
    gx = x + 0.15 * smooth_field(width, height, cells, rng)
    gy = y + 0.15 * smooth_field(width, height, cells, rng)
    fx, fy = np.floor(gx), np.floor(gy)  # the grid square each pixel is in
    cx, cy = fx.astype(np.int32), fy.astype(np.int32)
    rows, cols = int(cy.max()) + 3, int(cx.max()) + 3
    seeds = rng.uniform(0.1, 0.9, (2, rows + 1, cols + 1)).astype(np.float32)
    greys = rng.uniform(0.25, 0.85, (rows + 1, cols + 1)).astype(np.float32)
    nearest = np.full((height, width), np.inf, np.float32)
    second, grey = nearest.copy(), np.zeros((height, width), np.float32)
    for oy in (-1, 0, 1):
        for ox in (-1, 0, 1):
            iy, ix = np.maximum(cy + oy, -1) + 1, np.maximum(cx + ox, -1) + 1  # padded
            dx = fx + ox + seeds[0][iy, ix] - gx
            dy = fy + oy + seeds[1][iy, ix] - gy
            d = np.sqrt(dx * dx + dy * dy)
            closer = d < nearest
            second = np.where(closer, nearest, np.minimum(second, d))
            grey = np.where(closer, greys[iy, ix], grey)
            nearest = np.minimum(nearest, d)
    edge = second - nearest  # about twice the distance to the neighbouring stone
    dome = np.clip((edge - rng.uniform(0.03, 0.12)) / rng.uniform(0.2, 0.6), 0, 1) ** 0.5
    light = rng.uniform(0, 2 * math.pi)
    slope = cv2.Sobel(dome, cv2.CV_32F, 1, 0) * math.cos(light)
    slope += cv2.Sobel(dome, cv2.CV_32F, 0, 1) * math.sin(light)
    return grey * (0.8 + 0.5 / cell * slope) * (0.25 + 0.75 * dome)


# A pattern, its cell (course, ring, thread, stone) relative to the others, pixels drawn a cell.
_PATTERNS = ((_bricks, 1.0, 12), (_wood, 0.6, 8), (_weave, 0.3, 5), (_stones, 1.75, 8))


_OBJECT_STYLES = ("coin", "pebble", "button", "cell")


def objects_gray(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Several round objects (coins, pebbles, buttons, cells) on a plain or faint ground.

    Shaded discs on a flat background are round densities without a chest around them; the
    first classifier accepted a photograph of coins.
    """
    ground = rng.uniform(0.05, 0.9)
    image = np.full((height, width), ground, np.float32)
    if rng.random() < 0.5:  # a cloth, wood or paper ground, faintly
        image += rng.uniform(0.01, 0.05) * smooth_field(
            width, height, int(rng.integers(8, 80)), rng
        )
    style = _OBJECT_STYLES[int(rng.integers(len(_OBJECT_STYLES)))]
    count = int(rng.integers(3, 30))
    covered = rng.uniform(0.1, 0.45)  # of the frame, so the cost does not grow with count
    radius = math.sqrt(covered * width * height / (count * math.pi))
    light = rng.uniform(0, 2 * math.pi)
    towards = 1 if ground < 0.5 else -1  # objects stand out: lighter on dark, darker on light
    shared = rng.uniform(0.15, 0.5) if rng.random() < 0.5 else None  # one grey for all, or each
    for _ in range(count):
        r = radius * rng.uniform(0.6, 1.4)
        centre = rng.uniform(-0.05, 1.05) * width, rng.uniform(-0.05, 1.05) * height
        contrast = shared if shared is not None else rng.uniform(0.15, 0.5)
        grey = float(np.clip(ground + towards * contrast, 0.05, 0.95))
        _stamp(image, centre, r, style, grey, light, rng)
    return _finish_gray(image, rng)


def _stamp(
    image: np.ndarray,
    centre: tuple[float, float],
    r: float,
    style: str,
    grey: float,
    light: float,
    rng: np.random.Generator,
) -> None:
    """Draws one shaded object with its soft shadow, in place, inside its bounding box only."""
    height, width = image.shape
    reach = int(r * 1.3) + 3
    x0, x1 = max(0, int(centre[0]) - reach), min(width, int(centre[0]) + reach)
    y0, y1 = max(0, int(centre[1]) - reach), min(height, int(centre[1]) + reach)
    if x1 - x0 < 3 or y1 - y0 < 3:  # off the frame
        return
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - centre[0]
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - centre[1]
    angle = rng.uniform(0, math.pi)
    flat = rng.uniform(0.6, 1.0) if style in ("pebble", "cell") else rng.uniform(0.9, 1.0)
    a = dx * math.cos(angle) + dy * math.sin(angle)
    b = (dy * math.cos(angle) - dx * math.sin(angle)) / flat
    theta = np.arctan2(b, a)
    rho = np.sqrt(a * a + b * b) / r
    if style == "pebble":  # a lumpy outline
        rho = rho * (1 + 0.08 * np.cos(3 * theta + rng.uniform(0, 6)) * rng.uniform(0, 1))
    relief = _relief(style, rho, theta, rng)
    # Shadow first, offset away from the light, then the object over it.
    sx, sy = -math.cos(light) * r * 0.12, -math.sin(light) * r * 0.12
    shadow_rho = np.sqrt((dx - sx) ** 2 + (dy - sy) ** 2) / (r * 1.02)
    shadow = np.clip((1.05 - shadow_rho) * 4, 0, 1) * rng.uniform(0.15, 0.5)
    patch = image[y0:y1, x0:x1]
    patch *= 1 - shadow
    gy, gx = np.gradient(relief * r * 0.4)
    lx, ly, lz = math.cos(light) * 0.6, math.sin(light) * 0.6, 0.8
    normal = np.sqrt(gx * gx + gy * gy + 1)
    lambert = np.clip((-gx * lx - gy * ly + lz) / normal, 0, 1)
    value = grey * (0.35 + 0.75 * lambert)
    if style == "coin":  # metal: a sharp highlight
        value += 0.5 * lambert**30
    if style == "cell":  # thin and translucent: the ground shows through
        value = 0.7 * value + 0.3 * patch
    alpha = np.clip((1 - rho) * r, 0, 1)
    patch += alpha * (value - patch)


def _relief(style: str, rho: np.ndarray, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A height map (about 0..1) for one object, in its own polar coordinates."""
    inside = np.clip(1 - rho, 0, 1)
    if style == "pebble":
        return np.sqrt(inside * (2 - inside))  # a dome
    if style == "cell":  # a rim and a dimple, sometimes a nucleus
        height = 0.6 * inside**0.5 - 0.3 * np.exp(-((rho / 0.45) ** 2))
        if rng.random() < 0.5:
            height = height + 0.5 * np.exp(-((rho / 0.3) ** 2))
        return height
    rim = np.clip((rho - 0.8) * 10, 0, 1) * np.clip((1 - rho) * 20, 0, 1)
    if style == "button":  # a dished face with two or four holes
        height = 0.3 + 0.2 * rho**2 + 0.3 * rim
        holes = int(rng.integers(1, 3)) * 2
        turn = rng.uniform(0, math.pi)
        for k in range(holes):
            hx = 0.3 * math.cos(turn + 2 * math.pi * k / holes)
            hy = 0.3 * math.sin(turn + 2 * math.pi * k / holes)
            near = (rho * np.cos(theta) - hx) ** 2 + (rho * np.sin(theta) - hy) ** 2
            height = np.where(near < 0.012, -0.4, height)
        return np.where(rho < 1, height, 0)
    # A coin: raised rim, lettering round it, and an embossed motif in the middle.
    motif = cv2.resize(rng.standard_normal((7, 7), np.float32), rho.shape[::-1])
    motif = (motif > 0.2) * (rho < 0.65) * 0.2
    letters = (np.cos(theta * int(rng.integers(20, 60))) > 0.2) * (np.abs(rho - 0.72) < 0.05)
    height = 0.25 + 0.25 * rim + motif + 0.1 * letters
    return np.where(rho < 1, height, 0).astype(np.float32)


def cross_section(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A CT or MRI axial slice: an elliptical body on black with ellipses of other greys inside.

    Medical and grey like a radiograph, but a slice rather than a lateral projection of a chest:
    the product must refuse it.  The first classifier accepted the Shepp-Logan phantom.
    """
    image = np.full((height, width), rng.uniform(0, 0.06), np.float32)
    side = min(width, height)
    centre = np.array([width / 2, height / 2]) + rng.normal(0, 0.04, 2) * side
    axes = rng.uniform([0.25, 0.22], [0.46, 0.46]) * side  # a head is taller, a body wider
    tilt = rng.normal(0, 8)
    _body(image, centre, axes, tilt, rng)
    if rng.random() < 0.3:  # the scanner's table, curved, under the body
        t = math.radians(tilt)
        bottom = centre[1] + math.hypot(axes[0] * math.sin(t), axes[1] * math.cos(t))
        curve = axes * rng.uniform([1.1, 0.3], [1.6, 0.6])
        top = (centre[0], bottom + rng.uniform(0.01, 0.05) * side - curve[1])
        cv2.ellipse(image, _pixel(top), _pixel(curve), 0, 20, 160, rng.uniform(0.3, 0.7), 3)
    if rng.random() < 0.3:  # streaks from something dense, as a reconstruction draws them
        _streaks(image, centre + rng.uniform(-0.4, 0.4, 2) * axes, rng)
    if rng.random() < 0.5:  # reconstruction noise is correlated: grainy rather than speckled
        grain = cv2.GaussianBlur(rng.random(image.shape, np.float32) - 0.5, (0, 0), 1.5)
        image += rng.uniform(0.1, 0.8) * grain
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 2.0) * side / 500)
    if rng.random() < 0.4:  # round field of view, outside it black or a flat grey
        mask = np.zeros(image.shape, np.uint8)
        cv2.circle(mask, _pixel(centre), int(max(axes) * rng.uniform(1.02, 1.15)), 1, -1)
        image = np.where(mask > 0, image, rng.choice([0.0, rng.uniform(0.1, 0.3)]))
    return _finish_gray(np.clip(image, 0, 1) ** rng.uniform(0.7, 1.4), rng, lit=False)


def _body(
    image: np.ndarray, centre: np.ndarray, axes: np.ndarray, tilt: float, rng: np.random.Generator
) -> None:
    """Draws a head, a trunk or an MRI slice in place, with organs inside it.

    Inner ellipses are Shepp-Logan-like but random in number, size, place, angle and grey, and
    are kept inside the body so that the outline stays whole.
    """
    style = ("head", "trunk", "mri")[int(rng.integers(3))]
    rim, tissue = {
        "head": (rng.uniform(0.8, 1.0), rng.uniform(0.2, 0.45)),  # skull round the brain
        "trunk": (rng.uniform(0.15, 0.3), rng.uniform(0.35, 0.55)),  # fat round soft tissue
        "mri": (rng.uniform(0.7, 1.0), rng.uniform(0.3, 0.6)),  # bright fat, dark bone inside
    }[style]
    thickness = rng.uniform(0.02, 0.08)
    inner = axes * (1 - thickness)
    _ellipse(image, centre, axes, tilt, rim)
    if style == "mri":
        _ellipse(image, centre, inner, tilt, rng.uniform(0.0, 0.1))
        inner = inner * (1 - thickness)
    _ellipse(image, centre, inner, tilt, tissue)
    outside = np.ones(image.shape, np.uint8)
    _ellipse(outside, centre, inner, tilt, 0)
    rim_and_air = image[outside > 0]
    c, s = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
    turn = np.array([[c, -s], [s, c]])  # body frame -> image, turning the way cv2.ellipse does
    if style == "trunk" and rng.random() < 0.6:  # a chest slice: two lungs and a spine
        for x in (-0.45, 0.45):
            lung = centre + turn @ (inner * [x, -0.05])
            _ellipse(image, lung, inner * [0.38, 0.7], tilt + rng.normal(0, 5), 0.05)
        spine = centre + turn @ (inner * [0, 0.75])
        _ellipse(image, spine, inner * 0.12, 0, rng.uniform(0.8, 1.0))
    for _ in range(int(rng.integers(3, 14))):  # organs, ventricles, vessels, tumours
        place = centre + turn @ (rng.uniform(-0.7, 0.7, 2) * inner)
        grey = float(np.clip(tissue + rng.uniform(-0.3, 0.45), 0, 1))
        _ellipse(image, place, inner * rng.uniform(0.04, 0.35, 2), rng.uniform(0, 180), grey)
    image[outside > 0] = rim_and_air


def _pixel(point: np.ndarray | tuple) -> tuple[int, int]:
    return int(point[0]), int(point[1])


def _ellipse(
    image: np.ndarray, centre: np.ndarray | tuple, axes: np.ndarray, tilt: float, grey: float
) -> None:
    """Fills an ellipse in place (cv2 draws on float32 without anti-aliasing; blur comes later)."""
    size = max(1, int(axes[0])), max(1, int(axes[1]))
    cv2.ellipse(image, _pixel(centre), size, float(tilt), 0, 360, float(grey), -1)


def _streaks(image: np.ndarray, source: np.ndarray, rng: np.random.Generator) -> None:
    """Thin bright and dark lines radiating from one point (metal or beam-hardening streaks)."""
    height, width = image.shape
    reach = 2 * max(width, height)
    layer = np.zeros_like(image)
    for _ in range(int(rng.integers(6, 30))):
        turn = rng.uniform(0, math.pi)
        dx, dy = reach * math.cos(turn), reach * math.sin(turn)
        start = (int(source[0] - dx), int(source[1] - dy))
        end = (int(source[0] + dx), int(source[1] + dy))
        cv2.line(layer, start, end, float(rng.uniform(-0.15, 0.15)), 1)
    image += layer
