"""What a picture-of-picture (PoP) photo shows besides the radiograph: the screen, the room.

Two parts, each drawn per *scene family* (``inference.phantoms.pop`` explains the families):

* ``screen_plate``: the flat object the radiograph is shown on, in its own plane, as emitted
  light in [0, 1] RGB: a monitor (bezel, a viewer's toolbar and thumbnails around the image,
  or the film full screen), a lightbox (a film clipped on a bright panel, inside a frame),
  or, held out, a laptop showing the radiograph full screen inside a silver bezel.  It
  returns the rectangle the radiograph occupies (the "screen's image area" the corners mark).
  Training screens are domain-randomised (see "training screens" below); the held-out kinds
  keep their own fixed looks and are never drawn for training.
* ``background``: the room behind it, in photo pixels: a wall, a desk and clutter (papers,
  books, mugs, cables) or a procedural room (random noise or gratings, rectangles, ellipses,
  lines) for training scenes; bookshelves, wood, tiles, bricks, weaves, a dark room, polygons
  and a keyboard for held-out ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inference.phantoms.negative_gray import smooth_field, texture_gray

TRAIN_SCREENS = ("viewer", "lightbox", "fullscreen")
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
    if family == "train":
        return _randomised_plate(radiograph, rng)
    kind = str(rng.choice(HELDOUT_SCREENS))
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


# --- training screens: domain randomisation -------------------------------------------------
#
# Training draws its screens from wide random ranges rather than a few fixed looks, so that
# the network learns "a lit rectangle showing a radiograph, inside some frame" and not one
# bezel colour or theme: every bezel and frame grey from black to white, tinted; viewer
# themes from dark to light, with toolbars and thumbnails anywhere or absent; the film shown
# at a random contrast, gamma, black level and tint; lightboxes of any colour temperature.
# The held-out kinds above (light viewers in light bezels, warm lightboxes, laptops) keep
# their own code and random streams and are never drawn here.


def _tint(rng: np.random.Generator, spread: float) -> np.ndarray:
    """A random colour of brightest channel 1, each channel at least ``1 - spread``."""
    tint = rng.uniform(1.0 - spread, 1.0, 3).astype(np.float32)
    return tint / tint.max()


def _displayed_film(radiograph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The radiograph as a display shows it: gamma, black and white levels, a tint."""
    gamma = float(np.exp(rng.uniform(-0.4, 0.4)))
    black, white = float(rng.uniform(0.0, 0.15)), float(rng.uniform(0.7, 1.0))
    shown = black + (white - black) * np.clip(radiograph, 0.0, 1.0) ** gamma
    return (shown[..., None] * _tint(rng, 0.12)).astype(np.float32)


def _randomised_plate(radiograph: np.ndarray, rng: np.random.Generator) -> Plate:
    kind = str(rng.choice(TRAIN_SCREENS, p=[0.45, 0.3, 0.25]))
    if kind == "lightbox":
        return _random_lightbox(radiograph, rng)
    film = _displayed_film(radiograph, rng)
    h, w = radiograph.shape
    if kind == "fullscreen":
        display, rect = film, (0, 0, w, h)
    else:
        display, rect = _random_viewer(film, rng)
    display = display * float(rng.uniform(0.6, 1.0))
    bezel = _grey(float(rng.uniform(0.02, 0.9)), _tint(rng, 0.2))
    return _framed(display, rect, bezel, float(rng.uniform(0.01, 0.07)), kind)


def _random_viewer(
    film: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A viewer of a random theme: toolbar (top or bottom) and thumbnails (left or right),
    each present or not, margins of any width (none included)."""
    h, w = film.shape[:2]
    panel = _grey(float(rng.uniform(0.03, 0.85)), _tint(rng, 0.15))
    side = round(w * rng.uniform(0.12, 0.3)) if rng.random() < 0.7 else 0
    bar = round(h * rng.uniform(0.05, 0.12)) if rng.random() < 0.7 else 0
    margin = [round(s * rng.uniform(0.0, 0.12)) for s in (w, h, w, h)]
    thumbs_left, bar_top = rng.random() < 0.7, rng.random() < 0.7
    width = side + margin[0] + w + margin[2]
    height = bar + margin[1] + h + margin[3]
    display = np.empty((height, width, 3), np.float32)
    display[:] = panel
    x0 = (side if thumbs_left else 0) + margin[0]
    y0 = (bar if bar_top else 0) + margin[1]
    if bar:
        by = 0 if bar_top else height - bar
        display[by : by + bar] = panel * float(rng.uniform(0.5, 1.5))
        for index in range(int(rng.integers(0, 10))):  # toolbar icons
            x = round(side * 0.3 + index * bar * 1.3)
            if x + bar * 0.7 >= width:
                break
            icon = _grey(float(rng.uniform(0.0, 1.0)), _tint(rng, 0.4))
            top, bottom = by + round(bar * 0.2), by + round(bar * 0.8)
            cv2.rectangle(display, (x, top), (x + round(bar * 0.7), bottom), _c(icon), -1)
    if side:
        sx = 0 if thumbs_left else width - side
        thumb_w = max(8, round(side * rng.uniform(0.5, 0.85)))
        thumb_h = max(8, round(thumb_w * h / w))
        small = cv2.resize(film, (thumb_w, thumb_h), interpolation=cv2.INTER_AREA)
        y = (bar if bar_top else 0) + round(h * 0.04)
        for _ in range(int(rng.integers(0, 5))):  # series thumbnails
            if y + thumb_h >= height:
                break
            x = sx + round((side - thumb_w) / 2)
            display[y : y + thumb_h, x : x + thumb_w] = small
            y += thumb_h + round(h * rng.uniform(0.02, 0.08))
    display[y0 : y0 + h, x0 : x0 + w] = film
    return display, (x0, y0, w, h)


def _random_lightbox(radiograph: np.ndarray, rng: np.random.Generator) -> Plate:
    """A film on a lit panel of any colour temperature, in a frame of any grey."""
    h, w = radiograph.shape
    light = _tint(rng, 0.3) * float(rng.uniform(0.7, 1.0))
    margins = [round(s * rng.uniform(0.02, 0.2)) for s in (w, h, w, h)]
    width, height = margins[0] + w + margins[2], margins[1] + h + margins[3]
    glow = 1.0 + float(rng.uniform(0.0, 0.1)) * smooth_field(width, height, 3, rng)[..., None]
    panel = np.clip(light * glow, 0.0, 1.0).astype(np.float32)
    x0, y0 = margins[0], margins[1]
    base, density = float(rng.uniform(0.02, 0.1)), float(rng.uniform(0.8, 0.95))
    gamma = float(np.exp(rng.uniform(-0.3, 0.3)))
    film = base + density * np.clip(radiograph, 0.0, 1.0) ** gamma
    panel[y0 : y0 + h, x0 : x0 + w] = film[..., None] * light
    for _ in range(int(rng.integers(0, 4))):  # clips holding the film
        cx = x0 + round(w * rng.uniform(0.1, 0.9))
        clip = _grey(float(rng.uniform(0.05, 0.6)), _tint(rng, 0.3))
        cv2.rectangle(panel, (cx - w // 30, 0), (cx + w // 30, max(1, y0 - 2)), _c(clip), -1)
    frame = _grey(float(rng.uniform(0.02, 0.9)), _tint(rng, 0.2))
    return _framed(panel, (x0, y0, w, h), frame, float(rng.uniform(0.015, 0.08)), "lightbox")


# --- the room -------------------------------------------------------------------------------


def background(width: int, height: int, family: str, rng: np.random.Generator) -> np.ndarray:
    """``[H, W, 3]`` float32 reflectance-times-light of the room behind the screen."""
    if family == "train":
        if rng.random() < 0.4:
            return _office(width, height, rng)
        return _procedural_room(width, height, rng)
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


def _procedural_room(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A random procedural background (training): coloured multi-scale noise or a grating,
    lit by a random gradient from dim to bright, under random rectangles, ellipses and lines
    (other screens, frames, papers, cables)."""
    light = float(rng.uniform(0.12, 1.0))
    colours = rng.uniform(0.05, 0.95, (2, 3)).astype(np.float32)
    if rng.random() < 0.6:
        mix = sum(
            float(rng.uniform(0.2, 1.0)) * smooth_field(width, height, int(cells), rng)
            for cells in rng.integers(2, 40, 3)
        )
    else:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        angle = float(rng.uniform(0, np.pi))
        period = float(rng.uniform(0.01, 0.2)) * max(width, height)
        mix = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * (2 * np.pi / period))
        mix = mix * float(rng.uniform(1.0, 6.0))
    weight = 1.0 / (1.0 + np.exp(-np.asarray(mix, np.float32)))
    room = colours[0] * weight[..., None] + colours[1] * (1 - weight[..., None])
    ramp = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :] * float(rng.normal())
    ramp = ramp + np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None] * float(rng.normal())
    room = room * (light * np.clip(1.0 + 0.25 * ramp, 0.3, 1.7))[..., None]
    room = np.ascontiguousarray(room, dtype=np.float32)
    for _ in range(int(rng.integers(0, 12))):
        shape = int(rng.integers(0, 3))
        colour = tuple(float(c) for c in rng.uniform(0.0, 1.0, 3) * light)
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(max(2, min(width, height) // 20), max(3, min(width, height) // 3)))
        if shape == 0:  # a rectangle, possibly another screen or a frame: filled or outlined
            box = ((cx, cy), (size * float(rng.uniform(0.4, 2.0)), size), rng.uniform(-30, 30))
            points = cv2.boxPoints(box).astype(np.int32)
            thickness = -1 if rng.random() < 0.7 else max(1, size // 10)
            cv2.drawContours(room, [points], 0, colour, thickness)
        elif shape == 1:
            axes = (max(1, size // 2), max(1, round(size * rng.uniform(0.2, 0.6))))
            cv2.ellipse(room, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        else:
            end = (cx + int(rng.integers(-size, size)), cy + int(rng.integers(-size, size)))
            cv2.line(room, (cx, cy), end, colour, max(1, size // 15))
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
