"""Evaluate the leukemia models on held-out phantoms, through the runtime that serves them.

Every phantom goes through ``ProductRuntime.run``, the call a worker makes for a request (the
same predictor, preprocessing, batching and postprocessing); several at once, so they share
forward passes as concurrent requests do.  ``docs/models.md`` publishes the figures.

Beside accuracy and the confusion matrix: calibration (``inference.runtime.agreement``: the
expected calibration error of the served top-class confidence, three decimals as a client
sees it, over ``CALIBRATION_BINS`` equal-width bins) and how often each ``confidence_level``
is right.  ``write_plots`` draws the confusion matrix and the reliability diagram.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from inference.phantoms.leukemia import CLASSES, draw_dataset
from inference.products.leukemia.labels import CONFIDENCE_LEVELS
from inference.runtime import agreement
from inference.runtime.agreement import CALIBRATION_BINS
from inference.runtime.reproducible import evaluation_dataset_seed

PHANTOM_SIZE = 128
CONCURRENCY = 16


def evaluate(runtime: Any, n_per_class: int, seed: int) -> dict[str, Any]:
    """Accuracy, per-class precision/recall, the confusion matrix, calibration and
    accuracy per confidence level on held-out phantoms.

    Confusion rows are the true class, columns the predicted class, both in ``CLASSES`` order.
    """
    cells = list(draw_dataset(n_per_class, evaluation_dataset_seed(seed), PHANTOM_SIZE))
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(lambda cell: runtime.run({"image": cell.image}), cells))
    matrix = [[0] * len(CLASSES) for _ in CLASSES]
    confidences, correct, levels = [], [], []
    for cell, result in zip(cells, results, strict=True):
        truth = CLASSES.index(cell.truth["class"])
        prediction = result["prediction"]
        matrix[truth][CLASSES.index(prediction["predicted_class"])] += 1
        confidences.append(float(prediction["confidence"]))
        correct.append(prediction["predicted_class"] == cell.truth["class"])
        levels.append(prediction["confidence_level"])
    document = report(matrix, seed)
    document["calibration"] = agreement.calibration(confidences, correct, CALIBRATION_BINS)
    document["by_confidence_level"] = {
        level: {
            "n": sum(1 for v in levels if v == level),
            "accuracy": agreement.rate(
                [c for c, v in zip(correct, levels, strict=True) if v == level]
            ),
        }
        for level in CONFIDENCE_LEVELS
    }
    return document


def write_plots(result: dict[str, Any], directory: Path) -> list[Path]:
    """The confusion matrix and the reliability diagram as PNGs in ``directory``."""
    from inference import evaluation_plots as plots

    where = f"{result['n']:,} held-out phantoms, seed {result['seed']}"
    labels = result["confusion"]["labels"]
    return [
        plots.confusion_matrix(
            directory / "leukemia_confusion.png",
            result["confusion"]["matrix"],
            labels,
            labels,
            f"Leukemia classifier: confusion matrix ({where})",
        ),
        plots.reliability_diagram(
            directory / "leukemia_reliability.png",
            result["calibration"],
            f"Leukemia: reliability of the top-class confidence ({where})",
        ),
    ]


def report(matrix: Sequence[Sequence[int]], seed: int) -> dict[str, Any]:
    """The evaluation document from a confusion matrix (rows true, columns predicted)."""
    total = sum(sum(row) for row in matrix)
    per_class = {}
    for index, name in enumerate(CLASSES):
        hits = matrix[index][index]
        actual, called = sum(matrix[index]), sum(row[index] for row in matrix)
        per_class[name] = {
            "precision": round(hits / called, 4) if called else 0.0,
            "recall": round(hits / actual, 4) if actual else 0.0,
            "n": actual,
        }
    correct = sum(matrix[i][i] for i in range(len(CLASSES)))
    return {
        "seed": seed,
        "dataset_seed": evaluation_dataset_seed(seed),
        "n": total,
        "accuracy": round(correct / total, 4) if total else 0.0,
        "per_class": per_class,
        "confusion": {"labels": list(CLASSES), "matrix": [list(row) for row in matrix]},
    }
