"""Agreement between a model's answers and the truth: the figures evaluations publish.

One implementation of each figure, so every product's evaluation (and its tests) computes
them alike: mean absolute error, Pearson's r, Bland-Altman bias and limits of agreement,
a threshold's confusion matrix with sensitivity and specificity, and the expected calibration
error of a classifier's top-class confidence with the bins a reliability diagram draws.
Plain numpy; nothing here is imported by a worker.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Bland-Altman's 95 % limits of agreement: bias +/- this many standard deviations.
LIMITS_Z = 1.96
#: Equal-width bins of the top-class confidence over 0..1 for the calibration error.
CALIBRATION_BINS = 15
DIGITS = 4


def _pairs(measured: Sequence[float], truth: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(measured, np.float64), np.asarray(truth, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"measured and truth must be equal-length lists, got {a.shape}, {b.shape}")
    return a, b


def _rounded(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), DIGITS)


def mean_absolute_error(measured: Sequence[float], truth: Sequence[float]) -> float | None:
    """Mean of |measured - truth|; None without pairs."""
    a, b = _pairs(measured, truth)
    return _rounded(float(np.mean(np.abs(a - b)))) if a.size else None


def pearson_r(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's correlation coefficient; None with fewer than two pairs or a constant side
    (r is undefined there, and a figure of 0 would read as "no agreement")."""
    a, b = _pairs(x, y)
    if a.size < 2:
        return None
    da, db = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(np.sum(da * da)) * float(np.sum(db * db)))
    return _rounded(float(np.sum(da * db)) / denominator) if denominator > 0 else None


def bland_altman(measured: Sequence[float], truth: Sequence[float]) -> dict[str, Any]:
    """Bias (mean of measured - truth), the sample standard deviation of the differences
    (ddof 1, as Bland and Altman use) and the 95 % limits of agreement, bias +/- 1.96 sd."""
    a, b = _pairs(measured, truth)
    differences = a - b
    if differences.size < 2:
        bias = float(differences.mean()) if differences.size else None
        empty = {"sd": None, "lower": None, "upper": None}
        return {"n": int(differences.size), "bias": _rounded(bias), **empty}
    bias, sd = float(differences.mean()), float(differences.std(ddof=1))
    return {
        "n": int(differences.size),
        "bias": _rounded(bias),
        "sd": _rounded(sd),
        "lower": _rounded(bias - LIMITS_Z * sd),
        "upper": _rounded(bias + LIMITS_Z * sd),
    }


def within(measured: Sequence[float], truth: Sequence[float], tolerance: float) -> float | None:
    """The share of answers within ``tolerance`` of the truth (inclusive, to rounding)."""
    a, b = _pairs(measured, truth)
    if not a.size:
        return None
    return _rounded(float(np.mean(np.abs(a - b) <= tolerance + 1e-9)))


def agreement(measured: Sequence[float], truth: Sequence[float]) -> dict[str, Any]:
    """Every continuous figure at once: n, MAE, r, Bland-Altman, within 0.5, truth span."""
    a, b = _pairs(measured, truth)
    return {
        "n": int(a.size),
        "mae": mean_absolute_error(a, b),
        "r": pearson_r(a, b),
        "bland_altman": bland_altman(a, b),
        "within_0_5": within(a, b, 0.5),
        "truth_span": [_rounded(float(b.min())), _rounded(float(b.max()))] if b.size else None,
    }


def threshold_confusion(
    measured: Sequence[float], truth: Sequence[float], threshold: float
) -> dict[str, Any]:
    """The confusion matrix of truth >= ``threshold`` against measured >= ``threshold``,
    with sensitivity (positives found) and specificity (negatives cleared); a rate without
    any case to count is None."""
    a, b = _pairs(measured, truth)
    # Answers and truths are rounded (to 0.1); compare with a little slack so 2.5 is >= 2.5.
    called, actual = a >= threshold - 1e-9, b >= threshold - 1e-9
    tp, fn = int(np.sum(called & actual)), int(np.sum(~called & actual))
    fp, tn = int(np.sum(called & ~actual)), int(np.sum(~called & ~actual))
    return {
        "threshold": threshold,
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "sensitivity": _rounded(tp / (tp + fn)) if tp + fn else None,
        "specificity": _rounded(tn / (tn + fp)) if tn + fp else None,
    }


def calibration(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = CALIBRATION_BINS
) -> dict[str, Any]:
    """Expected calibration error of the top-class confidence over ``bins`` equal-width
    bins of 0..1: the mean over bins of |accuracy - mean confidence|, weighted by the
    bin's share of answers.  A confidence of exactly 1 falls in the last bin, 0 in the
    first.  The bins come back too (edges, count, accuracy, mean confidence): what a
    reliability diagram draws."""
    p = np.asarray(confidences, np.float64)
    hit = np.asarray(correct, bool)
    if p.shape != hit.shape or p.ndim != 1:
        raise ValueError("confidences and correct must be equal-length lists")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("confidences must lie in 0..1")
    index = np.minimum((p * bins).astype(int), bins - 1)
    rows, error = [], 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        accuracy = float(hit[members].mean()) if count else None
        mean_confidence = float(p[members].mean()) if count else None
        if count:
            error += count / p.size * abs(accuracy - mean_confidence)  # type: ignore[operator]
        rows.append(
            {
                "lower": round(b / bins, 6),
                "upper": round((b + 1) / bins, 6),
                "n": count,
                "accuracy": _rounded(accuracy),
                "confidence": _rounded(mean_confidence),
            }
        )
    return {"bins": bins, "ece": _rounded(error) if p.size else None, "table": rows}


def rate(flags: Sequence[bool]) -> float | None:
    """The share of true flags; None without any (a rate of nothing is not 0)."""
    return _rounded(float(np.mean(np.asarray(flags, bool)))) if len(flags) else None
