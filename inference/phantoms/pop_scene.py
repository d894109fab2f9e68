"""What a picture-of-picture (PoP) photo shows besides the radiograph: the screen, the room.

Two parts, each drawn per *scene family* (``inference.phantoms.pop`` explains the families):

* ``screen_plate``: the flat object the radiograph is shown on, in its own plane, as emitted
  light in [0, 1] RGB: a monitor (bezel, a viewer's toolbar and thumbnails around the image),
  a lightbox (a film clipped on a bright panel, inside a plastic frame), or, held out, a
  laptop showing the radiograph full screen inside a silver bezel.  It returns the rectangle
  the radiograph occupies (the "screen's image area" the corners mark).
* ``background``: the room behind it, in photo pixels: a wall, a desk and clutter (papers,
  books, mugs, cables) for training scenes; bookshelves, wood, tiles, bricks, weaves, a dark
  room, polygons and a keyboard for held-out ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inference.phantoms.negative_gray import smooth_field, texture_gray

TRAIN_SCREENS = ("viewer", "lightbox")
HELDOUT_SCREENS = ("viewer_light", "lightbox_warm", "laptop")


@dataclass(frozen=True)
class Plate:
    """The screen as a flat picture: ``pixels`` ``[H, W, 3]`` float32 emitted light, and the
    radiograph's rectangle in it, ``(x, y, width, height)`` in plate pixels."""

    pixels: np.ndarray
    image_rect: tuple[int, int, int, int]
    kind: str
    #: The part of the plate that is a lit display or panel (where moire and glare show).
    display_rect: tuple[int, int, int, int]


def _grey(value: float, tint: np.ndarray | None = None) -> np.ndarray:
    colour = np.full(3, value, np.float32)
    return colour * tint if tint is not None else colour


def _c(colour: np.ndarray) -> tuple[float, float, float]:
    """An OpenCV colour."""
    return tuple(float(c) for c in colour)  # type: ignore[return-value]


def screen_plate(radiograph: np.ndarray, family: str, rng: np.random.Generator) -> Plate:
    """The radiograph (``[h, w]`` floats in [0, 1]) on a screen of the family's kinds."""
    kinds = TRAIN_SCREENS if family == "train" else HELDOUT_SCREENS
    kind = str(rng.choice(kinds))
    if kind.startswith("viewer"):
        return _viewer(radiograph, kind, rng)
    if kind.startswith("lightbox"):
        return _lightbox(radiograph, kind, rng)
    return _laptop(radiograph, rng)


def _viewer(radiograph: np.ndarray, kind: str, rng: np.random.Generator) -> Plate:
    """A monitor running a viewer: toolbar on top, thumbnails on the left, image centred."""
    h, w = radiograph.shape
    light = kind == "viewer_light"
    brightness = float(rng.uniform(0.7, 1.0))
    if light:  # a light theme with a tinted panel (held out)
        tint = np.array([rng.uniform(0.85, 1.0), rng.uniform(0.9, 1.0), 1.0], np.float32)
        panel = _grey(float(rng.uniform(0.55, 0.8)), tint)
    else:
        panel = _grey(float(rng.uniform(0.2, 0.45)))
    left = round(w * rng.uniform(0.12, 0.3))
    top = round(h * rng.uniform(0.06, 0.12))
    margin = [round(s * rng.uniform(0.04, 0.12)) for s in (w, h, w, h)]
    width = left + margin[0] + w + margin[2]
    height = top + margin[1] + h + margin[3]
    display = np.empty((height, width, 3), np.float32)
    display[:] = panel
    toolbar = panel * (0.6 if not light else 0.85)
    display[:top] = toolbar
    for index in range(int(rng.integers(4, 10))):  # toolbar icons
        x = round(left * 0.3 + index * top * 1.3)
        if x + top * 0.7 >= width:
            break
        icon = _grey(float(rng.uniform(0.5, 0.95)))
        cv2.rectangle(
            display, (x, round(top * 0.2)), (x + round(top * 0.7), round(top * 0.8)), _c(icon), -1
        )
    thumb_w = max(8, round(left * 0.7))
    thumb_h = max(8, round(thumb_w * h / w))
    small = cv2.resize(radiograph, (thumb_w, thumb_h), interpolation=cv2.INTER_AREA)
    y = top + round(h * 0.04)
    for _ in range(int(rng.integers(1, 4))):  # series thumbnails
        if y + thumb_h >= height:
            break
        x = round((left - thumb_w) / 2)
        display[y : y + thumb_h, x : x + thumb_w] = small[..., None]
        y += thumb_h + round(h * 0.04)
    x0, y0 = left + margin[0], top + margin[1]
    display[y0 : y0 + h, x0 : x0 + w] = radiograph[..., None]
    display *= brightness
    bezel = (
        _grey(float(rng.uniform(0.02, 0.12))) if not light else _grey(float(rng.uniform(0.6, 0.85)))
    )
    return _framed(display, (x0, y0, w, h), bezel, float(rng.uniform(0.02, 0.06)), kind)


def _lightbox(radiograph: np.ndarray, kind: str, rng: np.random.Generator) -> Plate:
    """A film on a lit panel: the film transmits the radiograph, the panel glows around it."""
    h, w = radiograph.shape
    warm = kind == "lightbox_warm"
    if warm:  # an old tube, yellowish (held out)
        light = np.array([1.0, rng.uniform(0.88, 0.95), rng.uniform(0.7, 0.82)], np.float32)
    else:
        light = np.array([rng.uniform(0.9, 0.97), rng.uniform(0.95, 1.0), 1.0], np.float32)
    light *= float(rng.uniform(0.85, 1.0))
    margins = [round(s * rng.uniform(0.05, 0.2)) for s in (w, h, w, h)]
    width, height = margins[0] + w + margins[2], margins[1] + h + margins[3]
    glow = 1.0 + 0.06 * smooth_field(width, height, 3, rng)[..., None]  # uneven tubes
    panel = np.clip(light * glow, 0.0, 1.0).astype(np.float32)
    x0, y0 = margins[0], margins[1]
    # Film base: even the clearest film absorbs a little.
    film = 0.04 + 0.9 * radiograph
    panel[y0 : y0 + h, x0 : x0 + w] = film[..., None] * light
    for _ in range(int(rng.integers(1, 3))):  # clips holding the film at its top
        cx = x0 + round(w * rng.uniform(0.2, 0.8))
        clip = _grey(float(rng.uniform(0.1, 0.3)))
        cv2.rectangle(panel, (cx - w // 30, 0), (cx + w // 30, y0 - 2), _c(clip), -1)
    frame = _grey(float(rng.uniform(0.5, 0.8)) if not warm else float(rng.uniform(0.2, 0.4)))
    return _framed(panel, (x0, y0, w, h), frame, float(rng.uniform(0.03, 0.07)), kind)


def _laptop(radiograph: np.ndarray, rng: np.random.Generator) -> Plate:
    """A laptop showing the radiograph full screen in a thin silver bezel (held out)."""
    h, w = radiograph.shape
    display = radiograph[..., None] * float(rng.uniform(0.75, 1.0)) + 0.03
    display = np.repeat(display, 3, axis=2).astype(np.float32)
    bezel = _grey(float(rng.uniform(0.55, 0.8)))
    return _framed(display, (0, 0, w, h), bezel, float(rng.uniform(0.015, 0.04)), "laptop")


def _framed(
    display: np.ndarray,
    image_rect: tuple[int, int, int, int],
    colour: np.ndarray,
    fraction: float,
    kind: str,
) -> Plate:
    """The display inside a bezel ``fraction`` of its size wide."""
    height, width = display.shape[:2]
    border = max(3, round(max(width, height) * fraction))
    plate = np.empty((height + 2 * border, width + 2 * border, 3), np.float32)
    plate[:] = colour
    plate[border : border + height, border : border + width] = display
    x, y, w, h = image_rect
    return Plate(
        pixels=np.clip(plate, 0.0, 1.0),
        image_rect=(x + border, y + border, w, h),
        kind=kind,
        display_rect=(border, border, width, height),
    )


# --- the room -------------------------------------------------------------------------------


def background(width: int, height: int, family: str, rng: np.random.Generator) -> np.ndarray:
    """``[H, W, 3]`` float32 reflectance-times-light of the room behind the screen."""
    if family == "train":
        return _office(width, height, rng)
    return _heldout_room(width, height, rng)


def _office(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A wall and a desk with papers, books, mugs and cables (training scenes)."""
    wall = np.array([rng.uniform(0.6, 0.9), rng.uniform(0.55, 0.85), rng.uniform(0.45, 0.8)])
    light = float(rng.uniform(0.35, 0.9))
    ramp = np.linspace(1.1, 0.8, height, dtype=np.float32)[:, None, None]
    room = np.broadcast_to(wall * light, (height, width, 3)) * ramp
    room = room * (1 + 0.05 * smooth_field(width, height, 4, rng)[..., None])
    room = np.ascontiguousarray(room, dtype=np.float32)
    desk_top = round(height * rng.uniform(0.6, 0.9))
    desk = np.array([rng.uniform(0.3, 0.6), rng.uniform(0.2, 0.45), rng.uniform(0.1, 0.35)])
    room[desk_top:] = desk * light
    for _ in range(int(rng.integers(3, 9))):
        shape = rng.choice(["paper", "book", "mug", "cable"])
        colour = tuple(float(c) for c in rng.uniform(0.05, 1.0, 3) * light)
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(min(width, height) // 12, min(width, height) // 4))
        if shape == "paper":
            paper = float(rng.uniform(0.85, 1.0) * light)
            cv2.rectangle(room, (cx, cy), (cx + size, cy + round(size * 1.4)), (paper,) * 3, -1)
        elif shape == "book":
            cv2.rectangle(room, (cx, cy), (cx + size // 3, cy + size), colour, -1)
        elif shape == "mug":
            cv2.ellipse(room, (cx, cy), (size // 3, size // 2), 0, 0, 360, colour, -1)
        else:
            end = (cx + int(rng.integers(-size, size)), cy + int(rng.integers(-size, size)))
            cv2.line(room, (cx, cy), end, colour, max(2, size // 20))
    return room


def _heldout_room(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Scenes training never draws: shelves, wood, tiles, bricks, cloth, a dark room."""
    kind = str(rng.choice(["shelf", "texture", "dark"]))
    light = float(rng.uniform(0.15, 0.35) if kind == "dark" else rng.uniform(0.4, 1.0))
    if kind == "shelf":
        room = np.empty((height, width, 3), np.float32)
        x = 0
        while x < width:  # book spines of every colour
            spine = int(rng.integers(max(4, width // 80), max(6, width // 25)))
            room[:, x : x + spine] = rng.uniform(0.05, 0.9, 3)
            x += spine
        for y in range(0, height, max(20, height // int(rng.integers(3, 6)))):
            room[y : y + max(3, height // 60)] = rng.uniform(0.2, 0.5)  # the shelves
    else:
        gray = texture_gray(width, height, rng)
        tint = rng.uniform(0.6, 1.0, 3)
        room = gray[..., None].astype(np.float32) / (255.0 if gray.dtype == np.uint8 else 1.0)
        room = room * tint
    room = np.ascontiguousarray(room * light, dtype=np.float32)
    for _ in range(int(rng.integers(2, 6))):  # polygons, stars and a keyboard
        centre = rng.uniform([0, 0], [width, height])
        radius = rng.uniform(0.04, 0.15) * min(width, height)
        count = int(rng.integers(5, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, count))
        radii = radius * rng.uniform(0.5, 1.0, count)
        points = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]
        colour = tuple(float(c) for c in rng.uniform(0.05, 1.0, 3) * light)
        cv2.fillPoly(room, [points.astype(np.int32)], colour)
    if rng.random() < 0.5:
        x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(height // 2, height))
        key = max(4, width // 40)
        for row in range(4):
            for column in range(14):
                x, y = x0 + column * key, y0 + row * key
                cv2.rectangle(room, (x, y), (x + key - 2, y + key - 2), (0.1 * light,) * 3, -1)
    if kind == "dark":  # a desk lamp's pool of light
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        pool = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.3 * width) ** 2))
        room = room * (1 + 2.0 * pool[..., None])
    return room.astype(np.float32)
