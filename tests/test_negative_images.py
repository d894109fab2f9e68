"""Procedural non-radiographs for the VHS classifier: every kind, sizes, greyness (no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from inference.phantoms.negative_images import _WEIGHTS, NEGATIVE_KINDS, draw_negative

GRAY_KINDS = ("photo_gray", "texture_gray", "objects_gray", "cross_section")
NEW_KINDS = ("texture_gray", "objects_gray", "cross_section")
SMALL = 96  # cheap to draw; every kind keeps its structure at this size


def _first_seed_of_each_kind(max_side: int = SMALL, seeds: int = 80) -> dict[str, int]:
    first: dict[str, int] = {}
    for seed in range(seeds):
        first.setdefault(draw_negative(seed, max_side=max_side)[1], seed)
    return first


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), np.int16)


def test_weights_are_a_distribution_over_the_kinds() -> None:
    assert len(_WEIGHTS) == len(NEGATIVE_KINDS) == len(set(NEGATIVE_KINDS))
    assert math.isclose(sum(_WEIGHTS), 1.0)
    assert set(NEW_KINDS) <= set(NEGATIVE_KINDS)


def test_every_kind_is_drawn_within_eighty_seeds() -> None:
    assert set(_first_seed_of_each_kind()) == set(NEGATIVE_KINDS)


def test_kinds_are_drawn_about_as_often_as_weighted() -> None:
    kinds = [draw_negative(seed, max_side=48)[1] for seed in range(400)]
    for kind, weight in zip(NEGATIVE_KINDS, _WEIGHTS, strict=True):
        assert abs(kinds.count(kind) / len(kinds) - weight) < 0.06, kind


def test_the_same_seed_draws_identical_pixels_for_every_kind() -> None:
    for kind, seed in _first_seed_of_each_kind().items():
        first, first_kind = draw_negative(seed, max_side=SMALL)
        second, second_kind = draw_negative(seed, max_side=SMALL)
        assert first_kind == second_kind == kind
        assert (first.mode, first.size) == (second.mode, second.size)
        assert np.array_equal(np.asarray(first), np.asarray(second)), kind


def test_different_seeds_of_a_new_kind_draw_different_images() -> None:
    for kind in NEW_KINDS:
        seeds = [s for s in range(200) if draw_negative(s, max_side=SMALL)[1] == kind][:2]
        first, second = (draw_negative(s, max_side=SMALL)[0] for s in seeds)
        assert first.size != second.size or not np.array_equal(_pixels(first), _pixels(second))


@pytest.mark.parametrize("max_side", [32, 64, 200, 360])
def test_max_side_bounds_the_longer_side_for_every_kind(max_side: int) -> None:
    for kind, seed in _first_seed_of_each_kind(max_side).items():
        image, _ = draw_negative(seed, max_side=max_side)
        assert max(image.size) <= max_side, kind
        assert min(image.size) >= min(32, max_side), kind


def test_without_max_side_the_size_is_the_drawn_one() -> None:
    for kind, seed in _first_seed_of_each_kind().items():
        image, _ = draw_negative(seed)
        assert all(256 <= side < 900 for side in image.size), (kind, image.size)


def test_max_side_changes_the_size_but_not_the_kind() -> None:
    for seed in range(40):
        large, large_kind = draw_negative(seed, max_side=400)
        small, small_kind = draw_negative(seed, max_side=128)  # no side under the 32 floor
        assert small_kind == large_kind
        ratio_large, ratio_small = large.size[0] / large.size[1], small.size[0] / small.size[1]
        assert ratio_small == pytest.approx(ratio_large, rel=0.05)


def test_grayscale_kinds_are_grey_and_the_new_ones_are_not_constant() -> None:
    drawn = {kind: 0 for kind in GRAY_KINDS}
    for seed in range(300):
        image, kind = draw_negative(seed, max_side=64)
        if kind not in drawn:
            continue
        drawn[kind] += 1
        assert image.mode == "L", kind  # grey by construction: no chroma for the classifier
        rgb = _pixels(image)
        assert np.array_equal(rgb[..., 0], rgb[..., 1])
        assert np.array_equal(rgb[..., 1], rgb[..., 2])
        pixels = np.asarray(image, np.float32)
        if kind in NEW_KINDS:
            assert pixels.std() > 4, (kind, seed, pixels.std())
            assert pixels.max() - pixels.min() > 40, (kind, seed)
    assert all(count >= 10 for count in drawn.values()), drawn  # every branch had its chances


def test_full_size_new_kinds_are_grey_images_with_contrast() -> None:
    for kind, seed in _first_seed_of_each_kind().items():
        if kind not in NEW_KINDS:
            continue
        image, _ = draw_negative(seed)
        assert image.mode == "L"
        pixels = np.asarray(image, np.float32)
        assert pixels.std() > 8, (kind, pixels.std())


def test_a_negative_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        draw_negative(-1)
