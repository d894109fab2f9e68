"""Picture-of-picture (PoP) phantoms: a phone photo of a screen showing a VHS radiograph.

A vet photographs the monitor or the lightbox with a phone; the photo is what the API gets.
``draw_pop`` renders exactly that, with the truth known:

- the radiograph is ``inference.phantoms.vhs.draw_radiograph`` (its own truth travels along:
  ``vhs``, ``vlas``, normalised ``landmarks``, which hold in the rectified frame too);
- it is shown on a screen (``pop_scene.screen_plate``: a viewer on a monitor, a lightbox,
  a laptop), which a pinhole camera photographs at a tilt (the angle between the screen's
  normal and the optical axis), a roll and a distance, in a room (``pop_scene.background``);
- then the photo's nuisances: glare (a reflected lamp: an additive highlight that clips),
  moire (the display's pixel grid beating with the sensor's: coloured bands), a colour cast
  (white balance), vignetting, blur (focus or shake), sensor noise and JPEG compression; and
  optionally the screen not fully in view (``out_of_view``).

``corners`` are the radiograph's displayed rectangle, TL, TR, BR, BL, in continuous photo
pixel coordinates (the photo spans ``[0, W] x [0, H]``; the centre of pixel ``(i, j)`` is
``(i + 0.5, j + 0.5)``).

**Scene families.**  ``train`` is domain-randomised (``pop_scene``): monitors running a
viewer of any theme or showing the film full screen, and lightboxes of any colour
temperature, in bezels and frames of every grey from black to white, the film at a random
contrast, gamma and tint; offices (a wall, a desk, papers, books, mugs, cables) or procedural
rooms (coloured noise or gratings under random rectangles, ellipses and lines, lit from dim to
bright); white balance within about +/-22 %.  ``heldout`` draws what training never sees:
light-themed viewers in light bezels, warm lightboxes, laptops showing the radiograph full
screen, shelves, textured walls and floors (bricks, wood, weave, stones), dark rooms lit by a
lamp, polygons, keyboards, and greener (fluorescent) casts.  Each family has its own random
streams, so no held-out photo is a training photo whatever the seed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from inference.phantoms.pop_scene import Plate, background, screen_plate
from inference.phantoms.vhs import DATASET_STRIDE, draw_radiograph
from inference.products.vhs.geometry import LANDMARKS

FAMILIES = ("train", "heldout")
PHOTO_LONG_SIDE = (640, 1024)
RADIOGRAPH_MAX_SIDE = 640
MAX_TILT_DEG = 40.0  # drawn tilts; a flag may ask for up to 70
MAX_ROLL_DEG = 12.0
GLARE_CHANCE = 0.35
MOIRE_CHANCE = 0.3
STRONG_BLUR_CHANCE = 0.12
OUT_OF_VIEW_CHANCE = 0.0  # only on request: training asks for its share explicitly


@dataclass(frozen=True)
class PopPhantom:
    """One photo of a screen: the RGB image and its JSON-safe ground truth."""

    image: Image.Image
    truth: dict[str, Any]


@dataclass(frozen=True)
class _Nuisance:
    tilt_deg: float
    tilt_direction_deg: float
    roll_deg: float
    glare: float
    moire: float
    blur: float
    jpeg_quality: int
    cast: tuple[float, float, float]
    out_of_view: bool


def draw_pop(
    seed: int,
    family: str = "train",
    tilt: float | None = None,
    glare: float | None = None,
    moire: bool | float | None = None,
    blur: float | None = None,
    out_of_view: bool | None = None,
    vhs: float | None = None,
    vlas: float | None = None,
    crop: bool = False,
    jpeg: bool = True,
    max_side: int | None = None,
) -> PopPhantom:
    """One phone photo of a screen showing radiograph ``seed``; identical pixels per arguments.

    Flags fix a nuisance instead of drawing it (drawing continues in the same order, so one
    seed is the same dog and room at any difficulty): ``tilt`` in degrees (0-70), ``glare``
    the highlight's strength (0 none; 0.5 clips a patch; 1 a large one), ``moire`` True/False
    or its amplitude, ``blur`` the Gaussian blur's sigma in photo pixels, ``out_of_view``
    pushes part of the screen out of the photo.  ``crop=False`` keeps every landmark on the
    film (the radiograph is measurable); ``jpeg=False`` skips the compression.  ``max_side``
    shrinks the photo (cheap training images for a network that sees 128 pixels); the scene
    and the truth stay the same.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if tilt is not None and not 0.0 <= tilt <= 70.0:
        raise ValueError(f"tilt must lie in 0..70 degrees, got {tilt}")
    rng = np.random.default_rng([seed, 17, FAMILIES.index(family)])
    size = _photo_size(rng)
    film_side, scale = RADIOGRAPH_MAX_SIDE, 1.0
    if max_side is not None and max(size) > max_side:
        factor = max_side / max(size)
        size = (max(32, round(size[0] * factor)), max(32, round(size[1] * factor)))
        film_side, scale = max(64, round(RADIOGRAPH_MAX_SIDE * factor)), factor
    radiograph = draw_radiograph(seed, vhs=vhs, vlas=vlas, crop=crop, max_side=film_side)
    film = np.asarray(radiograph.image.convert("L"), np.float32) / 255.0
    plate = screen_plate(film, family, rng)
    nuisance = _sample_nuisance(rng, family, plate, tilt, glare, moire, blur, out_of_view)
    photo, corners, display = _photograph(plate, family, nuisance, size, rng)
    photo = _finish(photo, corners, display, nuisance, rng, scale)
    pixels = np.clip(photo * 255.0 + 0.5, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    if jpeg:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=nuisance.jpeg_quality)
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    truth = _truth(seed, family, radiograph.truth, plate, nuisance, corners, size, jpeg)
    return PopPhantom(image=image, truth=truth)


def draw_pop_dataset(
    n: int,
    seed: int,
    family: str = "train",
    out_of_view_share: float = 0.0,
    max_side: int | None = None,
) -> Iterator[PopPhantom]:
    """``n`` photos; photo ``i`` draws radiograph seed ``seed * DATASET_STRIDE + i``.

    Every ``round(1 / out_of_view_share)``-th photo has its screen partly out of view.
    """
    every = round(1 / out_of_view_share) if out_of_view_share > 0 else 0
    for index in range(n):
        hidden = bool(every) and index % every == every - 1
        yield draw_pop(
            seed * DATASET_STRIDE + index,
            family,
            out_of_view=hidden or None,
            max_side=max_side,
        )


# --- sampling -------------------------------------------------------------------------------


def _sample_nuisance(
    rng: np.random.Generator,
    family: str,
    plate: Plate,
    tilt: float | None,
    glare: float | None,
    moire: bool | float | None,
    blur: float | None,
    out_of_view: bool | None,
) -> _Nuisance:
    drawn_tilt = float(MAX_TILT_DEG * math.sqrt(rng.random()))
    direction = float(rng.uniform(0, 360))
    roll = float(rng.uniform(-MAX_ROLL_DEG, MAX_ROLL_DEG))
    drawn_glare = float(rng.uniform(0.15, 0.9)) if rng.random() < GLARE_CHANCE else 0.0
    lit_display = not plate.kind.startswith("lightbox")
    drawn_moire = float(rng.uniform(0.04, 0.16)) if rng.random() < MOIRE_CHANCE else 0.0
    drawn_blur = float(rng.uniform(0.0, 1.2))
    if rng.random() < STRONG_BLUR_CHANCE:
        drawn_blur = float(rng.uniform(1.5, 3.5))
    quality = int(rng.integers(55, 96))
    if family == "train":  # any white balance, well beyond the held-out casts' ranges
        cast = (
            float(rng.uniform(0.78, 1.22)),
            float(rng.uniform(0.9, 1.1)),
            float(rng.uniform(0.75, 1.22)),
        )
    else:  # fluorescent green, or a strong warm lamp
        cast = (
            float(rng.uniform(0.8, 1.05)),
            float(rng.uniform(1.0, 1.15)),
            float(rng.uniform(0.75, 1.0)),
        )
    hidden = bool(rng.random() < OUT_OF_VIEW_CHANCE) if out_of_view is None else out_of_view
    if moire is None:
        amplitude = drawn_moire if lit_display else 0.0
    elif isinstance(moire, bool):
        amplitude = 0.12 if moire else 0.0
    else:
        amplitude = float(moire)
    return _Nuisance(
        tilt_deg=drawn_tilt if tilt is None else float(tilt),
        tilt_direction_deg=direction,
        roll_deg=roll,
        glare=drawn_glare if glare is None else float(glare),
        moire=amplitude,
        blur=drawn_blur if blur is None else float(blur),
        jpeg_quality=quality,
        cast=cast,
        out_of_view=hidden,
    )


def _photo_size(rng: np.random.Generator) -> tuple[int, int]:
    long_side = int(rng.integers(PHOTO_LONG_SIDE[0], PHOTO_LONG_SIDE[1] + 1))
    short_side = round(long_side / float(rng.choice([4 / 3, 16 / 9, 3 / 2])))
    return (long_side, short_side) if rng.random() < 0.75 else (short_side, long_side)


# --- the camera -----------------------------------------------------------------------------


def _rotation(nuisance: _Nuisance) -> np.ndarray:
    """The screen's rotation: tilted by ``tilt`` about an in-plane axis, then rolled."""
    phi = math.radians(nuisance.tilt_direction_deg)
    axis = np.array([math.cos(phi), math.sin(phi), 0.0]) * math.radians(nuisance.tilt_deg)
    tilt, _ = cv2.Rodrigues(axis)
    roll = math.radians(nuisance.roll_deg)
    rolled = np.array(
        [[math.cos(roll), -math.sin(roll), 0], [math.sin(roll), math.cos(roll), 0], [0, 0, 1]]
    )
    return rolled @ tilt


def _project(
    points: np.ndarray, rotation: np.ndarray, shift: np.ndarray, focal: float, centre: np.ndarray
) -> np.ndarray:
    world = np.c_[points, np.zeros(len(points))] @ rotation.T + shift
    return focal * world[:, :2] / world[:, 2:3] + centre


def _photograph(
    plate: Plate, family: str, nuisance: _Nuisance, size: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The plate in the room, seen by the camera: the photo, the image-area corners and the
    display's corners (continuous photo pixels, TL, TR, BR, BL)."""
    width, height = size
    focal = float(rng.uniform(0.6, 1.0)) * math.hypot(width, height)
    centre = np.array([width / 2, height / 2]) + rng.normal(0, 0.01, 2) * [width, height]
    x, y, w, h = plate.image_rect
    unit = max(w, h)  # plate pixels per world unit; the image's centre is the world origin
    middle = np.array([x + w / 2, y + h / 2])

    def rect(rx: float, ry: float, rw: float, rh: float) -> np.ndarray:
        box = np.array([[rx, ry], [rx + rw, ry], [rx + rw, ry + rh], [rx, ry + rh]], float)
        return (box - middle) / unit

    image_quad = rect(x, y, w, h)
    rotation = _rotation(nuisance)
    fraction = float(rng.uniform(0.5, 0.85))
    target = rng.uniform(0.4, 0.6, 2) * [width, height]
    if nuisance.out_of_view:  # off-centre and large enough that a corner leaves the photo
        fraction = float(rng.uniform(0.85, 1.1))
        target = np.array([width, height]) * (
            0.5 + rng.choice([-1, 1], 2) * rng.uniform(0.2, 0.35, 2)
        )
    for _ in range(30):
        distance = focal / (fraction * min(width, height))
        shift = np.r_[(target - centre) * distance / focal, distance]
        corners = _project(image_quad, rotation, shift, focal, centre)
        inside = _inside(corners, width, height, 0.02)
        if nuisance.out_of_view != inside:
            break
        fraction *= 0.93 if not nuisance.out_of_view else 1.08
        if not nuisance.out_of_view:
            target = target * 0.9 + np.array([width, height]) * 0.05
    plate_h, plate_w = plate.pixels.shape[:2]
    whole = rect(0, 0, plate_w, plate_h)
    projected = _project(whole, rotation, shift, focal, centre)
    # Continuous coordinates -> OpenCV's pixel-centre coordinates on both sides.
    homography = cv2.getPerspectiveTransform(
        (unit * whole + middle - 0.5).astype(np.float32), (projected - 0.5).astype(np.float32)
    )
    room = background(width, height, family, rng)
    screen = cv2.warpPerspective(plate.pixels, homography, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(
        np.ones((plate_h, plate_w), np.float32), homography, (width, height), flags=cv2.INTER_LINEAR
    )
    photo = room * (1 - mask[..., None]) + screen * mask[..., None]
    dx, dy, dw, dh = plate.display_rect
    display = _project(rect(dx, dy, dw, dh), rotation, shift, focal, centre)
    return photo.astype(np.float32), corners, display


def _inside(corners: np.ndarray, width: int, height: int, margin: float) -> bool:
    m = margin * min(width, height)
    return bool(
        np.all(corners[:, 0] >= m)
        and np.all(corners[:, 0] <= width - m)
        and np.all(corners[:, 1] >= m)
        and np.all(corners[:, 1] <= height - m)
    )


# --- the photo's nuisances ------------------------------------------------------------------


def _finish(
    photo: np.ndarray,
    corners: np.ndarray,
    display: np.ndarray,
    nuisance: _Nuisance,
    rng: np.random.Generator,
    scale: float,
) -> np.ndarray:
    """Moire, glare, colour cast, vignetting, blur and noise (``scale``: of a shrunk photo)."""
    height, width = photo.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    screen = np.zeros((height, width), np.float32)
    cv2.fillConvexPoly(screen, np.round(display - 0.5).astype(np.int32), 1.0)
    if nuisance.moire > 0:  # beat of two grids: slowly curving coloured bands
        period = float(rng.uniform(6.0, 24.0)) * scale
        angle = float(rng.uniform(0, math.pi))
        bend = float(rng.uniform(-1, 1)) / max(width, height)
        phase = xx * math.cos(angle) + yy * math.sin(angle) + bend * (xx - width / 2) ** 2
        phase = phase * (2 * math.pi / period)
        bands = np.stack([np.cos(phase + shift) for shift in (0.0, 2.1, 4.2)], axis=2)
        photo = photo * (1 + nuisance.moire * bands * screen[..., None])
    if nuisance.glare > 0:  # a lamp reflected in the screen, centred on the screen
        weights = rng.dirichlet(np.ones(4))
        gx, gy = weights @ corners
        # (``spread``, not ``scale``: reusing the shrink factor's name here once blurred every
        # glare photo by a sigma of the screen's size, the screen lost in a smear)
        spread = rng.uniform(0.08, 0.22) * math.dist(corners[0], corners[2])
        ratio = float(rng.uniform(0.4, 1.0))
        theta = float(rng.uniform(0, math.pi))
        u = (xx - gx) * math.cos(theta) + (yy - gy) * math.sin(theta)
        v = -(xx - gx) * math.sin(theta) + (yy - gy) * math.cos(theta)
        spot = np.exp(-(u**2 + (v / ratio) ** 2) / (2 * spread**2))
        veil = 0.15 * nuisance.glare
        photo = photo + (1.6 * nuisance.glare * spot + veil)[..., None] * screen[..., None]
    photo = photo * np.array(nuisance.cast, np.float32)
    radius = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) / (
        (width / 2) ** 2 + (height / 2) ** 2
    )
    photo = photo * (1 - float(rng.uniform(0.0, 0.3)) * radius)[..., None]
    if nuisance.blur * scale > 0.3:
        photo = cv2.GaussianBlur(photo, (0, 0), nuisance.blur * scale)
    noise = float(rng.uniform(0.004, 0.02))
    photo = photo + rng.normal(0.0, noise, photo.shape).astype(np.float32)
    return np.clip(photo, 0.0, 1.0)


def _truth(
    seed: int,
    family: str,
    film: dict[str, Any],
    plate: Plate,
    nuisance: _Nuisance,
    corners: np.ndarray,
    size: tuple[int, int],
    jpeg: bool,
) -> dict[str, Any]:
    width, height = size
    quad = [[round(float(x), 3), round(float(y), 3)] for x, y in corners]
    homography = cv2.getPerspectiveTransform(
        np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32), corners.astype(np.float32)
    )
    photo_landmarks = {}
    for name in LANDMARKS:
        point = cv2.perspectiveTransform(
            np.array([[film["landmarks"][name]]], np.float64), homography
        )
        photo_landmarks[name] = [round(float(point[0, 0, 0]), 3), round(float(point[0, 0, 1]), 3)]
    return {
        "seed": seed,
        "family": family,
        "size": [width, height],
        "corners": quad,
        "screen_in_view": _inside(corners, width, height, 0.0),
        "screen": plate.kind,
        "radiograph_size": film["size"],
        "vhs": film["vhs"],
        "vlas": film["vlas"],
        "vhs_visible": film["vhs_visible"],
        "vlas_visible": film["vlas_visible"],
        "landmarks": film["landmarks"],
        "visible": film["visible"],
        "landmarks_photo": photo_landmarks,
        "radiograph": {k: film[k] for k in ("seed", "atrial_infiltrate", "tight_crop", "exposure")},
        "nuisance": {
            "tilt_degrees": round(nuisance.tilt_deg, 2),
            "tilt_direction_degrees": round(nuisance.tilt_direction_deg, 2),
            "roll_degrees": round(nuisance.roll_deg, 2),
            "glare": round(nuisance.glare, 3),
            "moire": round(nuisance.moire, 3),
            "blur_sigma_px": round(nuisance.blur, 3),
            "colour_cast": [round(c, 3) for c in nuisance.cast],
            "jpeg_quality": nuisance.jpeg_quality if jpeg else None,
            "out_of_view": nuisance.out_of_view,
        },
    }
