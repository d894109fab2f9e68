"""VHS/VLAS geometry, result codes and response shapes on exact synthetic landmarks."""

from __future__ import annotations

import math

import pytest

from inference.products.vhs import responses
from inference.products.vhs.analysis import (
    VHS_VISIBLE,
    VLAS_VISIBLE,
    FrameResult,
    analyse,
    analyse_outputs,
    confidence_of,
    spread_of,
    summarise,
)
from inference.products.vhs.geometry import LANDMARKS, measure

Points = dict[str, tuple[float, float]]


def synthetic(
    vhs: float,
    vlas: float,
    width: int = 1000,
    height: int = 1000,
    unit_px: float = 60.0,
    rotation_deg: float = 0.0,
    long_share: float = 0.55,
) -> Points:
    """Landmarks with a known VHS and VLAS, in normalised coordinates of a w x h image.

    Built in pixels (a spine along x, the heart below it), rotated about the image centre,
    then divided by the image's own width and height.
    """
    long_px = vhs * long_share * unit_px
    short_px = vhs * (1 - long_share) * unit_px
    top = (450.0, 300.0)
    pixels = {
        "Vertebra A": (300.0, 150.0),
        "Vertebra B": (300.0 + 6 * unit_px, 150.0),
        "heart_top": top,
        "heart_bottom": (top[0] + long_px * math.sin(0.3), top[1] + long_px * math.cos(0.3)),
    }
    middle = ((top[0] + pixels["heart_bottom"][0]) / 2, (top[1] + pixels["heart_bottom"][1]) / 2)
    across = (math.cos(0.3), -math.sin(0.3))  # perpendicular to the long axis
    pixels["heart_right"] = (
        middle[0] - across[0] * short_px / 2,
        middle[1] - across[1] * short_px / 2,
    )
    pixels["heart_left"] = (
        middle[0] + across[0] * short_px / 2,
        middle[1] + across[1] * short_px / 2,
    )
    pixels["VLAS"] = (top[0] + vlas * unit_px, top[1])
    angle = math.radians(rotation_deg)
    cx, cy = 500.0, 500.0

    def rotate(p: tuple[float, float]) -> tuple[float, float]:
        dx, dy = p[0] - cx, p[1] - cy
        x = cx + dx * math.cos(angle) - dy * math.sin(angle)
        y = cy + dx * math.sin(angle) + dy * math.cos(angle)
        return x, y

    return {name: (rotate(p)[0] / width, rotate(p)[1] / height) for name, p in pixels.items()}


@pytest.mark.parametrize("vhs", [8.5, 9.7, 10.5, 11.2, 12.8])
@pytest.mark.parametrize("vlas", [1.6, 2.4])
def test_known_vhs_and_vlas_in_give_the_same_out(vhs, vlas):
    measurement = measure(synthetic(vhs, vlas), 1000, 1000)

    assert measurement.vhs == vhs
    assert measurement.vlas == vlas
    assert measurement.axes_perpendicular


@pytest.mark.parametrize(("width", "height"), [(1600, 900), (700, 1200), (333, 999)])
def test_non_square_images_are_not_distorted(width, height):
    # The same anatomy in pixels, stored normalised by a non-square image's own sides.
    points = synthetic(10.3, 1.9, width=width, height=height)

    measurement = measure(points, width, height)

    assert measurement.vhs == 10.3
    assert measurement.vlas == 1.9


def test_measuring_in_normalised_space_instead_would_be_wrong():
    points = synthetic(10.3, 1.9, width=1600, height=900)

    assert measure(points, 1000, 1000).vhs != 10.3  # why pixel space matters


@pytest.mark.parametrize("rotation", [-15, -7.5, 5, 12])
def test_a_rotated_spine_measures_the_same(rotation):
    assert measure(synthetic(11.0, 2.1, rotation_deg=rotation), 1000, 1000).vhs == 11.0


def test_axes_far_from_perpendicular_are_flagged():
    points = synthetic(10.0, 2.0)
    points["heart_left"] = points["heart_bottom"]

    assert not measure(points, 1000, 1000).axes_perpendicular


def test_coinciding_vertebrae_have_no_unit():
    points = synthetic(10.0, 2.0)
    points["Vertebra B"] = points["Vertebra A"]

    with pytest.raises(ValueError, match="no vertebral unit"):
        measure(points, 1000, 1000)


# --- ensemble spread and confidence ----------------------------------------------------------


def jittered(points: Points, offsets: list[float]) -> list[Points]:
    return [{n: (x + dx, y) for n, (x, y) in points.items()} for dx in offsets]


def test_spread_is_the_mean_distance_of_members_from_the_mean():
    base = synthetic(10.0, 2.0)
    members = jittered(base, [-0.004, 0.004, -0.004, 0.004, 0.0])

    mean = {n: base[n] for n in LANDMARKS}
    assert spread_of(members, mean) == pytest.approx(0.0032)


@pytest.mark.parametrize(
    ("spread", "label"),
    [
        (0.0, "optimal"),
        (0.0049, "optimal"),
        (0.005, "good"),
        (0.0079, "good"),
        (0.008, "review"),
        (None, "review"),
    ],
)
def test_confidence_thresholds_follow_the_seed(spread, label):
    assert confidence_of(spread) == label


# --- result codes 0-6 ---------------------------------------------------------------------------


@pytest.mark.parametrize(("offset", "code"), [(0.002, 1), (0.008, 2), (0.012, 3)])
def test_codes_1_2_3_follow_the_ensembles_agreement(offset, code):
    members = jittered(synthetic(10.0, 2.0), [-offset, offset, -offset, offset, 0.0])

    frame = analyse(members, 0.99, 1000, 1000)

    assert frame.spread == pytest.approx(0.8 * offset)  # four of five members are `offset` off
    assert frame.result_code == code
    assert frame.vhs == 10.0


def test_code_4_when_the_vlas_point_is_outside_the_image():
    points = synthetic(10.0, 2.0)
    points["VLAS"] = (1.08, points["VLAS"][1])

    frame = analyse([points] * 5, 0.9, 1000, 1000)

    assert (frame.result_code, frame.vlas) == (4, None)
    assert frame.vhs == 10.0


def test_code_5_when_a_heart_or_vertebral_landmark_is_outside_the_image():
    points = synthetic(10.0, 2.0)
    points["Vertebra A"] = (-0.1, 0.15)

    frame = analyse([points] * 5, 0.9, 1000, 1000)

    assert (frame.result_code, frame.vhs, frame.vlas) == (5, None, None)


def visible_except(*hidden: str) -> dict[str, float]:
    return {name: (0.1 if name in hidden else 0.9) for name in LANDMARKS}


def test_code_4_when_the_networks_cannot_see_the_vlas_point():
    frame = analyse([synthetic(10.0, 2.0)] * 5, 0.9, 1000, 1000, visible_except("VLAS"))

    assert (frame.result_code, frame.vhs, frame.vlas) == (4, 10.0, None)


@pytest.mark.parametrize("name", ["heart_bottom", "Vertebra B"])
def test_code_5_when_the_networks_cannot_see_a_heart_or_vertebral_point(name):
    frame = analyse([synthetic(10.0, 2.0)] * 5, 0.9, 1000, 1000, visible_except(name))

    assert (frame.result_code, frame.vhs, frame.vlas) == (5, None, None)


def test_raw_network_outputs_average_visibility_over_the_members():
    points = synthetic(10.0, 2.0)
    rows = [[[*points[name], 0.95] for name in LANDMARKS] for _ in range(5)]
    vlas = LANDMARKS.index("VLAS")
    for member, probability in zip(rows, [0.9, 0.6, 0.2, 0.2, 0.2], strict=True):
        member[vlas][2] = probability  # mean 0.42: not visible

    frame = analyse_outputs(0.95, rows, 1000, 1000)

    assert (frame.result_code, frame.vhs, frame.vlas) == (4, 10.0, None)
    for member in rows[2:]:
        member[vlas][2] = 0.9  # mean 0.84: visible
    assert analyse_outputs(0.95, rows, 1000, 1000).result_code == 1


@pytest.mark.parametrize(
    ("name", "threshold", "code_below"),
    [("VLAS", VLAS_VISIBLE, 4), ("heart_top", VHS_VISIBLE, 5), ("Vertebra A", VHS_VISIBLE, 5)],
)
def test_each_landmark_group_is_seen_from_its_own_threshold_on(name, threshold, code_below):
    points = synthetic(10.0, 2.0)

    def code(visibility: float) -> int:
        seen = {other: 0.99 for other in LANDMARKS} | {name: visibility}
        return analyse([points] * 5, 0.9, 1000, 1000, seen).result_code

    assert code(threshold) == 1
    assert code(threshold - 0.001) == code_below


def test_code_6_when_the_classifier_rejects_the_image():
    frame = analyse([synthetic(10.0, 2.0)] * 5, 0.2063, 1000, 1000)

    assert frame.result_code == 6
    assert frame.classifier_confidence == pytest.approx(0.7937)


def test_code_0_when_the_geometry_is_unusable():
    points = synthetic(10.0, 2.0)
    points["Vertebra B"] = points["Vertebra A"]

    assert analyse([points] * 5, 0.9, 1000, 1000).result_code == 0


def test_code_0_when_the_vhs_is_beyond_any_heart():
    points = synthetic(10.0, 2.0)
    points["Vertebra B"] = (
        points["Vertebra A"][0] + 0.02,
        points["Vertebra A"][1],
    )  # 3 px/vertebra

    assert analyse([points] * 5, 0.9, 1000, 1000).result_code == 0


# --- response shapes -------------------------------------------------------------------------


def test_a_rejected_image_has_the_rejection_shape_without_the_standard_fields():
    body = responses.single(FrameResult(6, 0.7937), "3.3.0", None, ([], []))

    assert body == {
        "classifier_confidence": 0.7937,
        "model_version": "3.3.0",
        "rejected": True,
        "rejection_reason": "not_a_valid_radiograph",
        "result_code": 6,
        "result_description": "Image rejected — not a valid radiograph.",
        "vhs": None,
        "vlas": None,
    }


def test_a_measured_image_has_the_standard_fields_in_the_seeds_order():
    frame = analyse([synthetic(10.4, 2.8)] * 5, 0.99, 1000, 1000)

    body = responses.single(frame, "ref-1", "BASE64", ([["2026-03-27", 11.38]], []))

    assert list(body) == [
        "vhs",
        "vlas",
        "prediction",
        "result_code",
        "result_description",
        "model_confidence",
        "spread",
        "pop_detected",
        "model_version",
        "rendered_image",
        "historic_vhs",
        "historic_vlas",
    ]
    assert [p["class"] for p in body["prediction"]] == list(LANDMARKS)
    assert (body["vhs"], body["vlas"], body["result_code"]) == (10.4, 2.8, 1)


def test_without_a_uuid_history_is_null_and_with_one_it_is_a_list():
    frame = analyse([synthetic(10.4, 2.8)] * 5, 0.99, 1000, 1000)

    assert responses.single(frame, "v", None, None)["historic_vhs"] is None
    assert responses.single(frame, "v", None, ([], []))["historic_vhs"] == []
    assert "rendered_image" not in responses.single(frame, "v", None, None)


def test_batch_aggregates_over_frames_with_landmarks():
    good = analyse([synthetic(11.3, 1.9)] * 5, 0.99, 1000, 1000)
    other = analyse(jittered(synthetic(10.9, 1.8), [0.003, -0.003, 0, 0, 0]), 0.99, 1000, 1000)
    rejected = FrameResult(6, 0.7937)

    body = responses.batch([rejected, other, good], "v", [None] * 3, ([], []))

    assert body["best_photo_index"] == 2  # the frame the ensemble agrees on most
    assert (body["vhs"], body["best_vhs"], body["median_vhs"]) == (11.3, 11.3, 11.1)
    assert body["vhs_std"] == pytest.approx(0.28, abs=0.01)
    assert (body["n_photos_processed"], body["n_photos_with_landmarks"]) == (3, 2)
    assert body["per_photo"][0] == {
        "vhs": None,
        "vlas": None,
        "spread": None,
        "model_confidence": "review",
        "landmarks_detected": False,
        "axes_perpendicular": False,
        "rejected": True,
        "rejection_reason": "not_a_valid_radiograph",
        "classifier_confidence": 0.7937,
        "result_code": 6,  # an addition to the seed: a code 6 and a code 7 differ
    }
    assert body["per_photo"][2]["pop_detected"] is False
    assert [photo["result_code"] for photo in body["per_photo"]] == [6, 1, 1]
    assert summarise([rejected, other, good]).result_code == 1


def test_a_batch_with_nothing_measured_bills_as_code_5_and_reports_nulls():
    body = responses.batch([FrameResult(6, 0.9)], "v", [None], None)

    assert body["vhs"] is None
    assert body["vhs_std"] is None
    assert body["best_photo_index"] is None
    assert summarise([FrameResult(6, 0.9)]).result_code == 5
