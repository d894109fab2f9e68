"""From model outputs to the seed's answer: landmarks, spread, confidence, result code.

Pure functions (no torch, no Django), so every rule is tested directly:

* **spread** is the ensemble's disagreement: the mean Euclidean distance, in normalised
  coordinates (fractions of the image's width and height), of each member's landmark from
  the ensemble mean, averaged over the members and the landmarks used for the measurement.
  0.005 is half a percent of the image.
* **confidence**: ``optimal`` below 0.005, ``good`` below 0.008, ``review`` otherwise.
* **visibility**: a landmark counts as seen when the mean point lies inside the image and the
  members' mean visibility probability reaches its group's threshold (``VHS_VISIBLE`` for the
  heart and vertebrae, ``VLAS_VISIBLE`` for the atrium), chosen on validation phantoms as
  ``visibility.py`` says.  The networks learn visibility from phantoms whose points leave the
  frame (tight crops) or whose left atrium is hidden by an infiltrate.
* **result codes** (seed 002): 6 rejected by the radiograph classifier; 5 when a heart or
  vertebral landmark is not seen (nothing can be measured); 0 when the landmarks are seen but
  give no usable geometry (no vertebral unit, or a VHS outside 3-20, which no heart has: for
  instance an image whose pixels are not square because it was resized carelessly); 4 when
  VHS is measured but the VLAS point is not seen; otherwise 1, 2 or 3 by confidence; 7 when
  the photo is of a screen (picture-of-picture) but its screen could not be found and
  rectified (``pipeline.measure_frame``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inference.products.vhs.geometry import LANDMARKS, measure

OPTIMAL_SPREAD = 0.005
GOOD_SPREAD = 0.008
PLAUSIBLE_VHS = (3.0, 20.0)
#: Visibility thresholds chosen by ``visibility.choose_thresholds`` for
#: ``vhs-ref-phantom-3.0`` on 1,600 validation phantoms (the shipped manifest keeps them in
#: ``notes.training.visibility_thresholds``; a retrained ensemble records its own there).
VHS_VISIBLE = 0.6435
VLAS_VISIBLE = 0.4769
RADIOGRAPH_THRESHOLD = 0.5  # P(radiograph) below this: rejected, code 6
VHS_LANDMARKS = (
    "heart_top",
    "heart_bottom",
    "heart_right",
    "heart_left",
    "Vertebra A",
    "Vertebra B",
)

RESULT_DESCRIPTIONS = {
    0: "Abnormal result — unexpected prediction state",
    1: "VHS and VLAS predicted successfully with high confidence",
    2: "VHS and VLAS predicted successfully with moderate confidence",
    3: "VHS and VLAS predicted but confidence is low — review recommended",
    4: "VHS predicted successfully, VLAS could not be calculated",
    5: "Neither VHS nor VLAS could be calculated — check image quality",
    6: "Image rejected — not a valid radiograph.",
    7: "PoP image detected but perspective correction failed",
}
MEASURED_CODES = frozenset({1, 2, 3, 4})

Points = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class FrameResult:
    """Everything the API reports about one image."""

    result_code: int
    classifier_confidence: float
    landmarks: Points | None = None
    spread: float | None = None
    vhs: float | None = None
    vlas: float | None = None
    axes_perpendicular: bool = False
    #: A photo of a screen, found and rectified before measuring (the PoP pipeline).
    pop_detected: bool = False
    #: What the PoP pipeline saw of the photo (``pop.ScreenFinding.quality``), for feedback.
    quality: dict[str, Any] | None = None
    #: The size in pixels of the image the landmarks were placed on (the rectified screen of
    #: a PoP photo), so that the same geometry can be run again on corrected landmarks.
    width: int | None = None
    height: int | None = None

    @property
    def rejected(self) -> bool:
        return self.result_code == 6

    @property
    def measured(self) -> bool:
        return self.result_code in MEASURED_CODES

    @property
    def confidence(self) -> str:
        return confidence_of(self.spread)


def confidence_of(spread: float | None) -> str:
    if spread is None:
        return "review"
    if spread < OPTIMAL_SPREAD:
        return "optimal"
    if spread < GOOD_SPREAD:
        return "good"
    return "review"


def ensemble_mean(members: list[Points]) -> Points:
    return {
        name: (
            statistics.fmean(member[name][0] for member in members),
            statistics.fmean(member[name][1] for member in members),
        )
        for name in LANDMARKS
    }


def spread_of(members: list[Points], mean: Points, names: tuple[str, ...] = LANDMARKS) -> float:
    distances = [
        math.hypot(member[name][0] - mean[name][0], member[name][1] - mean[name][1])
        for member in members
        for name in names
    ]
    return statistics.fmean(distances)


def inside(point: tuple[float, float]) -> bool:
    return 0.0 <= point[0] <= 1.0 and 0.0 <= point[1] <= 1.0


def rejection(
    radiograph_probability: float, threshold: float = RADIOGRAPH_THRESHOLD
) -> FrameResult | None:
    """Code 6 for an image the classifier does not take for a radiograph, else None."""
    if radiograph_probability < threshold:
        return FrameResult(result_code=6, classifier_confidence=1.0 - radiograph_probability)
    return None


def visible_threshold(name: str) -> float:
    """The visibility a landmark needs to count as seen."""
    return VLAS_VISIBLE if name == "VLAS" else VHS_VISIBLE


def landmark_scores(mean: Points, visibility: Mapping[str, float] | None) -> dict[str, float]:
    """Each landmark's visibility probability, 0 where its mean point lies outside the image;
    1 inside when ``visibility`` is None (exact synthetic landmarks)."""
    return {
        name: (1.0 if visibility is None else visibility[name]) if inside(mean[name]) else 0.0
        for name in LANDMARKS
    }


def analyse(
    members: list[Points],
    radiograph_probability: float,
    width: int,
    height: int,
    visibility: Mapping[str, float] | None = None,
    threshold: float = RADIOGRAPH_THRESHOLD,
) -> FrameResult:
    """One image's result from the classifier's probability and the ensemble's landmarks.

    ``visibility`` holds each landmark's mean visibility probability over the members; None
    (exact synthetic landmarks) means every landmark is visible.
    """
    rejected = rejection(radiograph_probability, threshold)
    if rejected is not None:
        return rejected
    mean = ensemble_mean(members)
    confidence = radiograph_probability
    scores = landmark_scores(mean, visibility)
    seen = {name: scores[name] >= visible_threshold(name) for name in LANDMARKS}
    if not all(seen[name] for name in VHS_LANDMARKS):
        return FrameResult(5, confidence, mean, spread_of(members, mean))
    vlas_visible = seen["VLAS"]
    names = (*VHS_LANDMARKS, "VLAS") if vlas_visible else VHS_LANDMARKS
    spread = spread_of(members, mean, names)
    try:
        measurement = measure(mean, width, height)
    except ValueError:
        return FrameResult(0, confidence, mean, spread)
    if not (PLAUSIBLE_VHS[0] <= measurement.vhs <= PLAUSIBLE_VHS[1]):
        return FrameResult(0, confidence, mean, spread)
    if not vlas_visible:
        code = 4
    else:
        code = {"optimal": 1, "good": 2, "review": 3}[confidence_of(spread)]
    return FrameResult(
        result_code=code,
        classifier_confidence=confidence,
        landmarks=mean,
        spread=spread,
        vhs=measurement.vhs,
        vlas=measurement.vlas if vlas_visible else None,
        axes_perpendicular=measurement.axes_perpendicular,
    )


def analyse_outputs(
    radiograph_probability: float, member_rows: list[list[list[float]]], width: int, height: int
) -> FrameResult:
    """The networks' outputs -> one image's result (``member_rows``: see ``read_members``)."""
    members, visibility = read_members(member_rows)
    return analyse(members, radiograph_probability, width, height, visibility)


def read_members(member_rows: list[list[list[float]]]) -> tuple[list[Points], dict[str, float]]:
    """Each member's points, and the members' mean visibility per landmark.

    ``member_rows[m][k]`` is member ``m``'s ``[x, y, P(visible)]`` for landmark ``k`` (in
    ``LANDMARKS`` order).
    """
    members = [
        {name: (row[0], row[1]) for name, row in zip(LANDMARKS, rows, strict=True)}
        for rows in member_rows
    ]
    visibility = {
        name: statistics.fmean(rows[index][2] for rows in member_rows)
        for index, name in enumerate(LANDMARKS)
    }
    return members, visibility


def prediction_list(landmarks: Points | None) -> list[dict[str, Any]]:
    """The seed's ``prediction`` array: 7 ``{"x", "y", "class"}``, normalised, 4 decimals;
    empty for a frame without landmarks (a PoP photo whose screen was not found, code 7)."""
    if not landmarks:
        return []
    return [
        {"x": round(landmarks[name][0], 4), "y": round(landmarks[name][1], 4), "class": name}
        for name in LANDMARKS
    ]


@dataclass(frozen=True)
class BatchSummary:
    best_index: int | None
    measured: list[int]
    result_code: int  # what the batch bills on: the best frame's code, or 5 when none measured

    @property
    def any_measured(self) -> bool:
        return self.best_index is not None


def summarise(frames: list[FrameResult]) -> BatchSummary:
    """The best frame is the measured one the ensemble agrees on most (lowest spread)."""
    measured = [i for i, frame in enumerate(frames) if frame.measured]
    if not measured:
        return BatchSummary(best_index=None, measured=[], result_code=5)
    best = min(measured, key=lambda i: (frames[i].spread or 0.0, i))
    return BatchSummary(best_index=best, measured=measured, result_code=frames[best].result_code)


def median_or_none(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def std_or_none(values: list[float]) -> float | None:
    """Sample standard deviation over frames; null with fewer than two (as the seed shows)."""
    return round(statistics.stdev(values), 2) if len(values) >= 2 else None
