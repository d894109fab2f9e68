"""Screen corners: validation, rectification, the SmartDoc Jaccard index, feedback."""

import numpy as np
import pytest

from inference.phantoms.pop import draw_pop
from inference.products.vhs.geometry import measure
from inference.products.vhs.pop.feedback import SENTENCES, feedback_for
from inference.products.vhs.pop.geometry import check_corners, jaccard, ordered, tilt_degrees
from inference.products.vhs.pop.screen import rectify

W, H = 800, 600
GOOD = [[100, 80], [700, 100], [680, 520], [120, 500]]


def test_a_good_quadrilateral_passes():
    assert check_corners(GOOD, W, H) is None
    assert check_corners([[-30, -20], [820, 0], [800, 620], [0, 600]], W, H) is None  # near


@pytest.mark.parametrize(
    ("corners", "message"),
    [
        ("nope", "list of four"),
        (GOOD[:3], "exactly four"),
        ([*GOOD[:3], [float("nan"), 500]], "finite"),
        ([*GOOD[:3], [120, float("inf")]], "finite"),
        ([*GOOD[:3], ["a", 500]], "pair of numbers"),
        ([*GOOD[:3], [True, 500]], "pair of numbers"),
        ([*GOOD[:3], [120, 900]], "outside"),
        ([[100, 80], [700, 100], [300, 200], [120, 500]], "convex"),
        ([[100, 80], [680, 520], [700, 100], [120, 500]], "cross"),
        ([[100, 100], [110, 100], [110, 110], [100, 110]], "too small"),
        ([[100, 80], [120, 500], [680, 520], [700, 100]], "anticlockwise"),
        ([[700, 100], [680, 520], [120, 500], [100, 80]], "top-left"),
        ([[100, 80], [700, 80], [700, 80.5], [100, 80.5]], "too small"),
    ],
)
def test_bad_corners_are_refused_with_a_reason(corners, message):
    problem = check_corners(corners, W, H)

    assert problem is not None
    assert message in problem


def test_ordered_puts_shuffled_points_in_tl_tr_br_bl_order():
    shuffled = [GOOD[2], GOOD[0], GOOD[3], GOOD[1]]

    assert ordered(shuffled) == [tuple(map(float, p)) for p in GOOD]


def test_jaccard_is_one_for_the_truth_and_falls_with_the_error():
    truth = np.array(GOOD, float)

    assert jaccard(truth, truth) == pytest.approx(1.0)
    shifted = truth + np.array([30, 0])
    assert 0.8 < jaccard(shifted, truth) < 0.97
    assert jaccard(truth + np.array([2000, 0]), truth) == 0.0


@pytest.mark.parametrize("family", ["train", "heldout"])
def test_rectifying_with_the_true_corners_keeps_the_measurement(family):
    for seed in range(6):
        phantom = draw_pop(seed, family, tilt=35 if seed % 2 else None)
        rectified = rectify(phantom.image, phantom.truth["corners"])
        landmarks = {k: tuple(v) for k, v in phantom.truth["landmarks"].items()}
        measured = measure(landmarks, *rectified.size)

        assert rectified.mode == "L"
        film_w, film_h = phantom.truth["radiograph_size"]
        aspect = rectified.width / rectified.height
        assert aspect == pytest.approx(film_w / film_h, rel=0.05)
        assert measured.vhs == pytest.approx(phantom.truth["vhs"], abs=0.35)


def test_tilt_is_read_from_the_corners():
    for tilt in (5, 25, 45):
        phantom = draw_pop(4, tilt=tilt)
        width, height = phantom.image.size

        assert tilt_degrees(phantom.truth["corners"], width, height) == pytest.approx(tilt, abs=6)


def test_feedback_names_the_most_urgent_problem():
    good = {"screen_in_view": True, "glare": 0.0, "sharpness": 0.9, "tilt_degrees": 10.0}

    assert feedback_for(1, True, good) is None
    assert feedback_for(1, False, None) is None
    assert feedback_for(6, False, None) == ("not_a_radiograph", SENTENCES["not_a_radiograph"])
    assert feedback_for(7, True, {**good, "screen_in_view": False})[0] == "not_in_view"
    assert feedback_for(3, True, {**good, "glare": 0.2})[0] == "glare"
    assert feedback_for(3, True, {**good, "sharpness": 0.1})[0] == "blur"
    assert feedback_for(3, True, {**good, "tilt_degrees": 50.0})[0] == "tilt"
    assert feedback_for(7, True, good)[0] == "screen_not_found"
    assert feedback_for(5, False, None)[0] == "not_measurable"
    assert feedback_for(7, True, {**good, "glare": 0.3, "screen_in_view": False})[0] == (
        "not_in_view"
    )
    for sentence in SENTENCES.values():
        assert sentence.endswith(".")
        assert len(sentence) < 140
