"""Evaluate the VHS reference models on held-out phantoms, through the serving pipeline.

``evaluate`` feeds held-out radiographs (half of them as RGB JPEGs, as clients upload them)
and non-radiographs through ``pipeline.measure_frame`` on a ``ProductRuntime``: the worker's
own predictors, batching and analysis, several images at once.  It reports the measurement errors,
the result codes, how the error grows with the confidence label, how visibility (codes 4
and 5) fares, and rejection per kind of image.  ``docs/models.md`` publishes its figures.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from inference.phantoms.vhs import draw_dataset, draw_negatives
from inference.products.vhs.analysis import FrameResult
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.pipeline import measure_frame
from inference.runtime.reproducible import evaluation_dataset_seed

CONCURRENCY = 16


def _jpeg_rgb(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _frames(runtime: Any, images: list[Image.Image]) -> list[FrameResult]:
    """Each image's result, as a worker computes it; concurrent, so batches form."""
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(lambda im: measure_frame(runtime, {"image": im}, None), images))


def evaluate(runtime: Any, n: int, seed: int) -> dict[str, Any]:
    """Measurement, visibility and result codes on ``n`` held-out radiographs; rejection on
    those and ``n`` non-radiographs.

    Every other radiograph is fed as an RGB JPEG (as clients upload them).  Errors count the
    phantoms whose truth makes the measurement possible and that the API measured; how often
    it declined a measurable one (and spotted an unmeasurable one) is reported beside them.
    Landmark errors are in the original image's pixels, over measured frames' visible points.
    """
    dataset_seed = evaluation_dataset_seed(seed)
    tally = _Tally()
    phantoms = list(draw_dataset(n, dataset_seed))
    images = [_jpeg_rgb(p.image) if i % 2 else p.image for i, p in enumerate(phantoms)]
    for index, (phantom, image, frame) in enumerate(
        zip(phantoms, images, _frames(runtime, images), strict=True)
    ):
        kind = "radiograph_rgb_jpeg" if index % 2 else "radiograph"
        tally.radiograph(kind, phantom.truth, frame, image.size)
    negatives = list(draw_negatives(n, dataset_seed))
    for (_, kind), frame in zip(
        negatives, _frames(runtime, [im for im, _ in negatives]), strict=True
    ):
        tally.verdicts.setdefault(kind, []).append(frame.rejected)
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
