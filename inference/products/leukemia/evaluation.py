"""Evaluate the leukemia models on held-out phantoms, through the runtime that serves them.

Every phantom goes through ``ProductRuntime.run``, the call a worker makes for a request (the
same predictor, preprocessing, batching and postprocessing); several at once, so they share
forward passes as concurrent requests do.  ``docs/models.md`` publishes the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from inference.phantoms.leukemia import CLASSES, draw_dataset
from inference.runtime.reproducible import evaluation_dataset_seed

PHANTOM_SIZE = 128
CONCURRENCY = 16


def evaluate(runtime: Any, n_per_class: int, seed: int) -> dict[str, Any]:
    """Accuracy, per-class precision/recall and the confusion matrix on held-out phantoms.

    Confusion rows are the true class, columns the predicted class, both in ``CLASSES`` order.
    """
    cells = list(draw_dataset(n_per_class, evaluation_dataset_seed(seed), PHANTOM_SIZE))
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(lambda cell: runtime.run({"image": cell.image}), cells))
    matrix = [[0] * len(CLASSES) for _ in CLASSES]
    for cell, result in zip(cells, results, strict=True):
        truth = CLASSES.index(cell.truth["class"])
        matrix[truth][CLASSES.index(result["prediction"]["predicted_class"])] += 1
    return report(matrix, seed)


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
