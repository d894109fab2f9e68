"""Visibility thresholds: the rule that chooses them, on scores whose answer is known, and the
shipped ensemble's values, which the serving rule and the manifest must agree on."""

from __future__ import annotations

import pytest
from django.conf import settings

from inference.products.vhs import analysis
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.visibility import (
    FrameScores,
    choose_thresholds,
    frame_scores,
    threshold_refusing_at_most,
)
from inference.runtime.manifest import read_manifest


def test_the_threshold_refuses_at_most_the_allowed_share_of_measurable_frames():
    scores = [i / 100 for i in range(100)]  # 0.00 .. 0.99

    assert threshold_refusing_at_most(scores, 0.02) == pytest.approx(0.015)  # refuses 0.00, 0.01
    assert threshold_refusing_at_most(scores, 0.0) == pytest.approx(0.0)
    assert threshold_refusing_at_most(list(reversed(scores)), 0.10) == pytest.approx(0.095)
    assert threshold_refusing_at_most([], 0.02) is None


def _truth(vhs_visible: bool, vlas_visible: bool) -> dict[str, bool]:
    return {"vhs_visible": vhs_visible, "vlas_visible": vlas_visible}


def test_choose_thresholds_picks_each_group_on_its_measurable_frames_and_reports_the_catch():
    measurable = [
        (_truth(True, True), FrameScores(vhs=0.5 + i / 200, vlas=0.4 + i / 200)) for i in range(100)
    ]
    hidden = [(_truth(True, False), FrameScores(vhs=0.99, vlas=v)) for v in (0.1, 0.2, 0.9)]
    cut_off = [(_truth(False, False), FrameScores(vhs=v, vlas=0.0)) for v in (0.0, 0.3, 0.95)]

    chosen = choose_thresholds(measurable + hidden + cut_off)

    # VHS over the 103 measurable frames (the 3 hidden atria at 0.99 included): 2 refused.
    assert chosen["vhs"] == pytest.approx((0.505 + 0.51) / 2)
    assert chosen["vlas"] == pytest.approx((0.405 + 0.41) / 2)  # over the 100 seen atria
    assert (chosen["n_measurable"], chosen["n_cut_off"]) == (103, 3)
    assert (chosen["n_atrium_seen"], chosen["n_atrium_hidden"]) == (100, 3)
    assert chosen["cut_off_refused"] == 0.6667  # rounded to four decimals
    assert chosen["atrium_hidden_refused"] == 0.6667


def test_a_frames_scores_are_its_weakest_vhs_landmark_and_its_atrium_zero_outside():
    rows = [[[0.5, 0.5, 0.9] for _ in LANDMARKS] for _ in range(5)]
    rows[0][LANDMARKS.index("heart_left")][2] = 0.4  # mean 0.8
    vlas = LANDMARKS.index("VLAS")
    for member in rows:
        member[vlas][0] = 1.2  # outside the frame: 0 whatever the network says

    scores = frame_scores(rows)

    assert scores.vhs == pytest.approx(0.8)
    assert scores.vlas == 0.0


def test_the_shipped_manifest_records_the_thresholds_the_service_applies():
    recorded = read_manifest(settings.MODEL_STORE, "vhs").notes["training"]["visibility_thresholds"]

    assert (recorded["vhs"], recorded["vlas"]) == (analysis.VHS_VISIBLE, analysis.VLAS_VISIBLE)
