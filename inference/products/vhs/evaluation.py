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


# --- picture-of-picture ---------------------------------------------------------------------

#: Scene families the PoP figures are published for (``inference.phantoms.pop``).
POP_FAMILIES = ("train", "heldout")


def evaluate_pop(runtime: Any, n: int, seed: int) -> dict[str, Any]:
    """The PoP pipeline on ``n`` held-out photos per scene family, through the runtime.

    Per family: detection (PoP photos flagged), corners (error of each found corner as a
    fraction of the photo's diagonal; SmartDoc 2015's Jaccard index, a photo whose corners
    were not found scoring 0), how often the corners were not found (code 7), and VHS measured
    on the rectified screen against VHS measured on the same radiographs straight (the same
    dogs, the same film, uploaded directly).  Beside them: ``n`` direct radiographs (8-bit
    grey, RGB JPEG, 16-bit, tight crops) and ``n`` non-radiographs, none of which may be
    flagged, and ``n // 4`` photos per family with the screen partly out of view (code 7).
    """
    from inference.phantoms.pop import draw_pop
    from inference.phantoms.vhs import draw_radiograph
    from inference.products.vhs.pop.screen import find_screen

    dataset_seed = evaluation_dataset_seed(seed)
    base = dataset_seed * DATASET_STRIDE_POP
    result: dict[str, Any] = {"n": n, "seed": seed, "dataset_seed": dataset_seed, "families": {}}

    def find(image: Image.Image) -> Any:
        return find_screen(runtime, image, None)

    straight: dict[int, float | None] = {}
    for family in POP_FAMILIES:
        phantoms = [draw_pop(base + i, family) for i in range(n)]
        findings = _parallel(find, [p.image for p in phantoms])
        frames = _frames(runtime, [p.image for p in phantoms])
        missing = [i for i in range(n) if phantoms[i].truth["seed"] not in straight]
        films = [
            draw_radiograph(phantoms[i].truth["seed"], crop=False, max_side=640).image
            for i in missing
        ]
        for i, frame in zip(missing, _frames(runtime, films), strict=True):
            straight[phantoms[i].truth["seed"]] = frame.vhs if frame.measured else None
        hidden = [draw_pop(base + n + i, family, out_of_view=True) for i in range(max(1, n // 4))]
        hidden_frames = _frames(runtime, [p.image for p in hidden])
        result["families"][family] = _pop_family(
            phantoms, findings, frames, straight, hidden_frames
        )
    direct = _direct_images(n, dataset_seed)
    direct_findings = _parallel(find, [image for image, _ in direct])
    negatives = list(draw_negatives(n, dataset_seed))
    negative_findings = _parallel(find, [image for image, _ in negatives])
    flagged: dict[str, list[bool]] = {}
    for (_, kind), finding in zip(
        direct + negatives, direct_findings + negative_findings, strict=True
    ):
        flagged.setdefault(kind, []).append(finding.pop_detected)
    result["direct_flagged"] = {kind: int(sum(v)) for kind, v in sorted(flagged.items())}
    result["direct_n"] = {kind: len(v) for kind, v in sorted(flagged.items())}
    radiographs = [
        v for kind, values in flagged.items() if kind.startswith("radiograph") for v in values
    ]
    result["direct_radiographs_flagged"] = int(sum(radiographs))
    result["non_radiographs_flagged"] = int(
        sum(
            v
            for kind, values in flagged.items()
            if not kind.startswith("radiograph")
            for v in values
        )
    )
    for family in POP_FAMILIES:
        figures = result["families"][family]
        detected = figures["detected"]
        figures["detection_accuracy"] = round(
            (detected + len(radiographs) - sum(radiographs)) / (figures["n"] + len(radiographs)), 4
        )
    return result


DATASET_STRIDE_POP = 1_000_000


def _parallel(function: Any, images: list[Image.Image]) -> list[Any]:
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(function, images))


def _direct_images(n: int, dataset_seed: int) -> list[tuple[Image.Image, str]]:
    """Direct radiographs as clients upload them, in four forms by turns."""
    from inference.phantoms.vhs import draw_radiograph

    images = []
    for index in range(n):
        phantom = draw_radiograph(dataset_seed * DATASET_STRIDE_POP + 500_000 + index)
        form = index % 4
        if form == 0:
            images.append((phantom.image, "radiograph_gray"))
        elif form == 1:
            images.append((_jpeg_rgb(phantom.image), "radiograph_rgb_jpeg"))
        elif form == 2:
            wide = np.asarray(phantom.image, np.uint16) * 257
            images.append((Image.fromarray(wide.astype("<u2")), "radiograph_16bit"))
        else:  # a tight crop around the heart, as a client crops before uploading
            width, height = phantom.image.size
            box = (width // 6, height // 6, width - width // 6, height - height // 6)
            images.append((phantom.image.crop(box), "radiograph_cropped"))
    return images


def _pop_family(
    phantoms: list[Any],
    findings: list[Any],
    frames: list[FrameResult],
    straight: dict[int, float | None],
    hidden_frames: list[FrameResult],
) -> dict[str, Any]:
    from inference.products.vhs.pop.geometry import jaccard

    errors, jaccards, not_found = [], [], 0
    vhs_pop, vhs_straight = [], []
    codes: Counter[int] = Counter()
    for phantom, finding, frame in zip(phantoms, findings, frames, strict=True):
        truth = phantom.truth
        corners = np.array(truth["corners"])
        diagonal = math.hypot(*truth["size"])
        codes[frame.result_code] += 1
        if finding.corners is None:
            not_found += 1
            jaccards.append(0.0)
        else:
            found = np.array(finding.corners)
            errors += list(np.linalg.norm(found - corners, axis=1) / diagonal)
            jaccards.append(jaccard(found, corners))
        film = straight.get(truth["seed"])
        if truth["vhs_visible"] and frame.measured and frame.vhs is not None and film is not None:
            vhs_pop.append(abs(frame.vhs - truth["vhs"]))
            vhs_straight.append(abs(film - truth["vhs"]))

    def rounded(value: float) -> float:
        return round(float(value), 5)

    pop_mae = float(np.mean(vhs_pop)) if vhs_pop else None
    straight_mae = float(np.mean(vhs_straight)) if vhs_straight else None
    return {
        "n": len(phantoms),
        "detected": int(sum(f.pop_detected for f in findings)),
        "corners_not_found": not_found,
        "corner_error_median": rounded(np.median(errors)) if errors else None,
        "corner_error_p95": rounded(np.percentile(errors, 95)) if errors else None,
        "jaccard_mean": rounded(np.mean(jaccards)),
        "result_codes": {str(code): count for code, count in sorted(codes.items())},
        "n_vhs_compared": len(vhs_pop),
        "vhs_mae_rectified": None if pop_mae is None else round(pop_mae, 4),
        "vhs_mae_straight": None if straight_mae is None else round(straight_mae, 4),
        "vhs_mae_ratio": round(pop_mae / straight_mae, 3) if pop_mae and straight_mae else None,
        "out_of_view_n": len(hidden_frames),
        "out_of_view_code_7": int(sum(f.result_code == 7 for f in hidden_frames)),
    }
