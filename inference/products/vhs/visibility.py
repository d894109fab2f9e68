"""When a landmark counts as seen: the thresholds behind result codes 4 and 5.

The ensemble gives each landmark a visibility probability (averaged over its members).  A
frame whose heart or vertebra landmarks are not all seen is code 5 (cut off); one whose
atrium is not seen is code 4 (VLAS not calculated).  A fixed 0.5 is an arbitrary cut, and
refusing a measurable frame costs the customer a measurement, so each threshold is chosen on
validation phantoms (training-dataset phantoms past the ones trained on, drawn as training
draws them: half the generator's population, half with VHS and VLAS spread over their whole
ranges) as the highest that refuses at most ``MAX_REFUSED`` of the measurable frames: the
issue-21 limit for visible atria answered code 4, applied to the heart and vertebrae too.
Chosen on the population alone, the atrium's threshold came out at 0.71 and refused 5.5 % of
the agreement set's visible atria, whose VLAS spans the range (``docs/models.md``).

A frame's scores are the smallest visibility over the VHS landmarks (0 for one the ensemble
puts outside the frame) and the VLAS landmark's visibility (0 likewise), which is what
``analysis.analyse`` compares with ``analysis.VHS_VISIBLE`` and ``analysis.VLAS_VISIBLE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inference.products.vhs.analysis import (
    VHS_LANDMARKS,
    ensemble_mean,
    landmark_scores,
    read_members,
)

#: The most measurable frames a threshold may refuse on the validation phantoms.
MAX_REFUSED = 0.02


@dataclass(frozen=True)
class FrameScores:
    """One frame's visibility scores, as ``analysis.analyse`` compares them."""

    vhs: float  # smallest visibility over the VHS landmarks; 0 if one lies outside the frame
    vlas: float  # the atrium's visibility; 0 if it lies outside the frame


def frame_scores(member_rows: list[list[list[float]]]) -> FrameScores:
    """One frame's scores from the ensemble's rows (``analysis.read_members``)."""
    members, visibility = read_members(member_rows)
    scores = landmark_scores(ensemble_mean(members), visibility)
    return FrameScores(vhs=min(scores[name] for name in VHS_LANDMARKS), vlas=scores["VLAS"])


def threshold_refusing_at_most(
    measurable: Iterable[float], share: float = MAX_REFUSED
) -> float | None:
    """The highest threshold below which at most ``share`` of ``measurable`` scores fall:
    midway between the last score it may refuse and the first it must keep (None without
    scores)."""
    scores = sorted(measurable)
    if not scores:
        return None
    refused = int(share * len(scores))  # how many may fall below it
    if refused == 0:
        return round(scores[0] / 2, 4)
    return round((scores[refused - 1] + scores[refused]) / 2, 4)


def choose_thresholds(frames: Iterable[tuple[dict[str, Any], FrameScores]]) -> dict[str, Any]:
    """The two thresholds from validation frames ``(truth, scores)``, with how many frames
    each was chosen on and what it catches there (the unmeasurable frames it refuses)."""
    frames = list(frames)
    measurable = [scores for truth, scores in frames if truth["vhs_visible"]]
    cut_off = [scores for truth, scores in frames if not truth["vhs_visible"]]
    atrium_seen = [s for truth, s in frames if truth["vhs_visible"] and truth["vlas_visible"]]
    atrium_hidden = [s for truth, s in frames if truth["vhs_visible"] and not truth["vlas_visible"]]
    vhs = threshold_refusing_at_most(s.vhs for s in measurable)
    vlas = threshold_refusing_at_most(s.vlas for s in atrium_seen)

    def caught(scores: list[FrameScores], attribute: str, threshold: float | None) -> float | None:
        if not scores or threshold is None:
            return None
        return round(sum(getattr(s, attribute) < threshold for s in scores) / len(scores), 4)

    return {
        "vhs": vhs,
        "vlas": vlas,
        "n_measurable": len(measurable),
        "n_cut_off": len(cut_off),
        "n_atrium_seen": len(atrium_seen),
        "n_atrium_hidden": len(atrium_hidden),
        "cut_off_refused": caught(cut_off, "vhs", vhs),
        "atrium_hidden_refused": caught(atrium_hidden, "vlas", vlas),
    }
