"""Images that are *not* radiographs, for the VHS product's radiograph classifier.

The classifier must turn away what clients actually upload by mistake: colour photographs
(often of the dog itself), photographed or scanned documents, blank frames and pure noise.
Grayscale versions of the photographs are included on purpose: colour alone must not be the
only cue, or a black-and-white photo would pass as a radiograph.

This module is the entry point (``draw_negative``, ``NEGATIVE_KINDS``) and draws the colour,
document, blank and noise kinds.  The three grayscale families ``texture_gray``,
``objects_gray`` and ``cross_section`` are drawn in ``negative_gray``, which also holds the
small helpers both modules share.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from inference.phantoms.negative_gray import (
    cross_section,
    objects_gray,
    smooth_field,
    texture_gray,
    to_u8,
)

NEGATIVE_KINDS: tuple[str, ...] = (
    "photo",
    "photo_gray",
    "document",
    "blank",
    "noise",
    "texture_gray",
    "objects_gray",
    "cross_section",
)
_WEIGHTS = (0.25, 0.15, 0.1, 0.08, 0.1, 0.12, 0.1, 0.1)


def draw_negative(seed: int, max_side: int | None = None) -> tuple[Image.Image, str]:
    """A non-radiograph image and its kind; the same seed always gives identical pixels.

    ``max_side`` shrinks the drawn size (cheap training images the classifier downsamples
    anyway); the kind does not change.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    rng = np.random.default_rng([seed, 3])
    kind = str(rng.choice(NEGATIVE_KINDS, p=_WEIGHTS))
    width, height = (int(v) for v in rng.integers(256, 900, 2))
    if max_side is not None and max(width, height) > max_side:
        factor = max_side / max(width, height)
        width, height = max(32, round(width * factor)), max(32, round(height * factor))
    if kind in ("photo", "photo_gray"):
        pixels = _photo(width, height, rng)
        image = Image.fromarray(pixels, "RGB")
        return (image.convert("L") if kind == "photo_gray" else image), kind
    drawer = {
        "document": _document,
        "blank": _blank,
        "noise": _noise,
        "texture_gray": texture_gray,
        "objects_gray": objects_gray,
        "cross_section": cross_section,
    }[kind]
    pixels = drawer(width, height, rng)  # [H, W] grey ("L") or [H, W, 3] ("RGB")
    return Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB"), kind


def _colour(rng: np.random.Generator, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    return rng.uniform(low, high, 3).astype(np.float32)


def _photo(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """An outdoor or indoor scene: two gradients, blobs, texture and often an animal."""
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    horizon = rng.uniform(0.3, 0.7)
    upper = _colour(rng, 0.3, 1.0) * np.array([0.7, 0.85, 1.0], np.float32)
    lower = _colour(rng, 0.1, 0.7) * np.array([0.8, 1.0, 0.6], np.float32)
    if rng.random() < 0.4:  # indoor: walls and floor in any colours
        upper, lower = _colour(rng, 0.2, 0.95), _colour(rng, 0.1, 0.8)
    sky = upper * (0.75 + 0.35 * rows)
    ground = lower * (1.1 - 0.4 * rows)
    image = np.where(rows < horizon, sky, ground) * np.ones((1, width, 1), np.float32)
    for _ in range(int(rng.integers(3, 12))):
        mask = np.zeros((height, width), np.uint8)
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        # integers(10, n) needs n > 10: a side under 33 px (a thin frame, max_side < 110) raised.
        axes = (
            int(rng.integers(10, max(11, width // 3))),
            int(rng.integers(10, max(11, height // 3))),
        )
        cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        alpha = cv2.GaussianBlur(mask, (0, 0), 3).astype(np.float32)[..., None] / 255
        image += alpha * (_colour(rng) - image)
    if rng.random() < 0.75:
        _animal(image, rng)
    image += 0.06 * smooth_field(width, height, int(rng.integers(6, 40)), rng)[..., None]
    image += rng.normal(0, rng.uniform(0.005, 0.03), image.shape).astype(np.float32)
    return to_u8(image)


def _animal(image: np.ndarray, rng: np.random.Generator) -> None:
    """A dog-like silhouette (body, head, legs, tail) with directional fur texture."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    scale = min(width, height) * rng.uniform(0.15, 0.3)
    cx, cy = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.4, 0.7)
    cv2.ellipse(mask, (int(cx), int(cy)), (int(scale), int(scale * 0.5)), 0, 0, 360, 255, -1)
    side = 1 if rng.random() < 0.5 else -1
    head = (int(cx + side * scale * 1.05), int(cy - scale * 0.45))
    cv2.circle(mask, head, int(scale * 0.38), 255, -1)
    for offset in (-0.7, -0.45, 0.45, 0.7):
        x = int(cx + offset * scale)
        cv2.line(mask, (x, int(cy)), (x, int(cy + scale * 0.95)), 255, max(2, int(scale * 0.14)))
    tail_angle = math.radians(rng.uniform(-60, 10))
    tail_start = (int(cx - side * scale * 0.95), int(cy - scale * 0.1))
    tail_end = (
        int(tail_start[0] - side * scale * 0.6 * math.cos(tail_angle)),
        int(tail_start[1] + scale * 0.6 * math.sin(tail_angle)),
    )
    cv2.line(mask, tail_start, tail_end, 255, max(2, int(scale * 0.08)))
    noise = rng.standard_normal((height, width)).astype(np.float32)
    kernel = np.zeros((9, 9), np.float32)
    kernel[4] = 1.0 / 9  # horizontal streaks read as fur
    fur = cv2.filter2D(noise, -1, kernel)
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), float(rng.uniform(0, 180)), 1.0)
    fur = cv2.warpAffine(fur, rotation, (width, height), borderMode=cv2.BORDER_REFLECT)
    coat = _colour(rng, 0.05, 0.9) * np.array([1.0, 0.8, 0.6], np.float32)
    alpha = cv2.GaussianBlur(mask, (0, 0), 2).astype(np.float32)[..., None] / 255
    texture = coat * (1.0 + 0.25 * fur[..., None])
    image += alpha * (texture - image)


def _document(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Paper with lines of word-like dark marks, a heading and sometimes uneven lighting."""
    paper = np.full((height, width, 3), rng.uniform(0.85, 1.0), np.float32)
    paper *= np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 1.0)], np.float32)
    ink = np.zeros((height, width), np.uint8)
    line_gap = int(rng.integers(12, 30))
    margin = int(width * rng.uniform(0.05, 0.15))
    y = margin
    while y < height - margin:
        x = margin
        while x < width - margin:
            word = int(rng.integers(line_gap // 2, line_gap * 4))
            cv2.rectangle(ink, (x, y), (min(x + word, width - margin), y + line_gap // 2), 255, -1)
            x += word + line_gap // 2
        y += line_gap + (line_gap if rng.random() < 0.1 else 0)
    ink = cv2.GaussianBlur(ink, (0, 0), 1.0).astype(np.float32) / 255
    page = paper * (1 - 0.85 * ink[..., None])
    if rng.random() < 0.5:
        page *= 0.75 + 0.25 * (smooth_field(width, height, 3, rng)[..., None] * 0.3 + 1)
    return to_u8(page)


def _blank(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A uniform frame (black, white, grey or a colour), sometimes with a faint gradient."""
    colour = _colour(rng) if rng.random() < 0.5 else np.full(3, rng.uniform(), np.float32)
    image = np.ones((height, width, 3), np.float32) * colour
    if rng.random() < 0.5:
        image += np.linspace(-0.1, 0.1, width, dtype=np.float32)[None, :, None]
    image += rng.normal(0, 0.01, image.shape).astype(np.float32)
    return to_u8(image)


def _noise(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Pure noise: white or smooth, grey or colour."""
    channels = 3 if rng.random() < 0.5 else 1
    noise = rng.uniform(0, 1, (height, width, channels)).astype(np.float32)
    if rng.random() < 0.5:
        sigma = float(rng.uniform(1, 12))
        noise = cv2.GaussianBlur(noise, (0, 0), sigma).reshape(height, width, channels)
        noise = (noise - noise.min()) / (noise.max() - noise.min() + 1e-6)
    return (np.repeat(noise, 3 // channels, axis=2) * 255).astype(np.uint8)
