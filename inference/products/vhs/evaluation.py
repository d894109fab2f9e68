"""Evaluate the VHS reference models on held-out phantoms, through the API's own analysis.

``evaluate`` feeds held-out radiographs (half of them as RGB JPEGs, as clients upload them)
and non-radiographs through the classifier and the ensemble, then through
``analysis.analyse_outputs`` exactly as a worker does, and reports the measurement errors,
the result codes, how the error grows with the confidence label, how visibility (codes 4
and 5) fares, and rejection per kind of image.  ``docs/models.md`` publishes its figures.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from inference.phantoms.vhs import draw_dataset, draw_negatives
from inference.products.vhs.analysis import RADIOGRAPH_THRESHOLD, FrameResult, analyse_outputs
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.network import (
    classifier_input,
    ensemble_landmarks,
    image_to_tensor,
)
from inference.runtime.reproducible import evaluation_dataset_seed


def ensemble_frame(models: dict[str, Any], image: Image.Image) -> FrameResult:
    """One image through the classifier and the ensemble, analysed exactly as the API does."""
    with torch.inference_mode():
        probability = float(torch.sigmoid(models["classifier"](classifier_input(image)[None])))
        rows = ensemble_landmarks(models["landmarks"], image_to_tensor(image)[None])[0]
    return analyse_outputs(probability, rows.tolist(), *image.size)


def radiograph_probability(classifier: nn.Module, image: Image.Image) -> float:
    with torch.inference_mode():
        return float(torch.sigmoid(classifier(classifier_input(image)[None]))[0, 0])


def _jpeg_rgb(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def evaluate(models: dict[str, Any], n: int, seed: int) -> dict[str, Any]:
    """Measurement, visibility and result codes on ``n`` held-out radiographs; rejection on
    those and ``n`` non-radiographs.

    Every other radiograph is fed as an RGB JPEG (as clients upload them).  Errors count the
    phantoms whose truth makes the measurement possible and that the API measured; how often
    it declined a measurable one (and spotted an unmeasurable one) is reported beside them.
    Landmark errors are in the original image's pixels, over measured frames' visible points.
    """
    dataset_seed = evaluation_dataset_seed(seed)
    tally = _Tally()
    for index, phantom in enumerate(draw_dataset(n, dataset_seed)):
        kind = "radiograph_rgb_jpeg" if index % 2 else "radiograph"
        image = _jpeg_rgb(phantom.image) if index % 2 else phantom.image
        tally.radiograph(kind, phantom.truth, ensemble_frame(models, image), image.size)
    for image, kind in draw_negatives(n, dataset_seed):
        accepted = radiograph_probability(models["classifier"], image) >= RADIOGRAPH_THRESHOLD
        tally.verdicts.setdefault(kind, []).append(not accepted)
    return _report(n, seed, tally)


@dataclass
class _Tally:
    """What ``evaluate`` counts, phantom by phantom."""

    vhs_errors: list[float] = field(default_factory=list)
    vlas_errors: list[float] = field(default_factory=list)
    pixel_errors: list[float] = field(default_factory=list)
    verdicts: dict[str, list[bool]] = field(
        default_factory=lambda: {"radiograph": [], "radiograph_rgb_jpeg": []}
    )
    codes: Counter[int] = field(default_factory=Counter)
    errors_by_confidence: dict[str, list[float]] = field(default_factory=dict)
    vhs_declined: list[bool] = field(default_factory=list)  # measurable, yet code 0/5
    vlas_declined: list[bool] = field(default_factory=list)  # VLAS measurable, yet absent
    hidden_atrium_found: list[bool] = field(default_factory=list)  # code 4 when hidden
    cropped_found: list[bool] = field(default_factory=list)  # code 5 when cut off

    def radiograph(
        self, kind: str, truth: dict[str, Any], frame: FrameResult, size: tuple[int, int]
    ) -> None:
        self.verdicts[kind].append(not frame.rejected)
        if frame.rejected:
            return
        self.codes[frame.result_code] += 1
        if not truth["vhs_visible"]:
            self.cropped_found.append(frame.result_code == 5)
            return
        self.vhs_declined.append(not frame.measured)
        if truth["atrial_infiltrate"]:
            self.hidden_atrium_found.append(frame.result_code == 4)
        if not frame.measured or frame.landmarks is None or frame.vhs is None:
            return
        error = abs(frame.vhs - truth["vhs"])
        self.vhs_errors.append(error)
        self.errors_by_confidence.setdefault(frame.confidence, []).append(error)
        if truth["vlas_visible"]:
            self.vlas_declined.append(frame.vlas is None)
            if frame.vlas is not None:
                self.vlas_errors.append(abs(frame.vlas - truth["vlas"]))
        for name in LANDMARKS:
            if truth["visible"][name]:
                (tx, ty), (px, py) = truth["landmarks"][name], frame.landmarks[name]
                self.pixel_errors.append(math.hypot((px - tx) * size[0], (py - ty) * size[1]))


def _report(n: int, seed: int, tally: _Tally) -> dict[str, Any]:
    def mean(values: list[float] | list[bool]) -> float | None:
        return round(float(np.mean(values)), 4) if values else None

    def within(values: list[float]) -> float | None:
        return round(float(np.mean(np.asarray(values) <= 0.5 + 1e-9)), 4) if values else None

    verdicts = tally.verdicts
    radiographs = verdicts["radiograph"] + verdicts["radiograph_rgb_jpeg"]
    negatives = [
        v for kind, values in verdicts.items() if not kind.startswith("radiograph") for v in values
    ]
    everything = radiographs + negatives
    return {
        "n": n,
        "seed": seed,
        "dataset_seed": evaluation_dataset_seed(seed),
        "n_vhs_measured": len(tally.vhs_errors),
        "n_vlas_measured": len(tally.vlas_errors),
        "vhs_mae": mean(tally.vhs_errors),
        "vlas_mae": mean(tally.vlas_errors),
        "vhs_within_0_5": within(tally.vhs_errors),
        "vlas_within_0_5": within(tally.vlas_errors),
        "landmark_error_px_mean": mean(tally.pixel_errors),
        "result_codes": {str(code): count for code, count in sorted(tally.codes.items())},
        "vhs_mae_by_confidence": {
            level: mean(tally.errors_by_confidence[level])
            for level in ("optimal", "good", "review")
            if level in tally.errors_by_confidence
        },
        "visibility": {
            "vhs_declined_rate": mean(tally.vhs_declined),
            "vlas_declined_rate": mean(tally.vlas_declined),
            "hidden_atrium_code_4_rate": mean(tally.hidden_atrium_found),
            "cropped_code_5_rate": mean(tally.cropped_found),
        },
        "rejection": {
            "accuracy": round(sum(everything) / len(everything), 4) if everything else None,
            "false_reject_rate": round(1 - sum(radiographs) / len(radiographs), 4)
            if radiographs
            else None,
            "false_accept_rate": round(1 - sum(negatives) / len(negatives), 4)
            if negatives
            else None,
            "by_kind": {
                kind: round(sum(v) / len(v), 4) for kind, v in sorted(verdicts.items()) if v
            },
        },
    }
