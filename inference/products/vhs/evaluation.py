"""Evaluate the VHS reference models on held-out phantoms, through the serving pipeline.

``evaluate`` feeds held-out radiographs (half of them as RGB JPEGs, as clients upload them)
and non-radiographs through ``pipeline.measure_frame`` on a ``ProductRuntime``: the worker's
own predictors, batching and analysis, several images at once.  It reports the measurement errors,
the result codes, how the error grows with the confidence label, how visibility (codes 4
and 5) fares, and rejection per kind of image.  ``docs/models.md`` publishes its figures.

Issue 21 adds agreement (``inference.runtime.agreement``: Pearson's r, Bland-Altman bias and
limits, the VLAS >= 2.5 enlargement cut-off) on the held-out set as it is and on the
agreement set (``inference.phantoms.vhs_agreement``: straight films, truths spread evenly),
the same dogs uploaded in six forms (8/16-bit, grey/RGB, PNG/JPEG), and every PNG sample image
scikit-image ships.  ``write_plots`` draws the agreement set's figures.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inference.phantoms.vhs import draw_dataset, draw_negatives
from inference.phantoms.vhs_agreement import AGREEMENT_VHS, AGREEMENT_VLAS, draw_agreement_set
from inference.products.vhs.analysis import FrameResult
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.pipeline import measure_frame
from inference.runtime import agreement
from inference.runtime.images import decoded_item
from inference.runtime.reproducible import evaluation_dataset_seed

CONCURRENCY = 16
#: The agreement set's default size (``evaluate_models vhs --n-agreement``).
N_AGREEMENT = 200
#: Left-atrial enlargement: VLAS at or above this (the cut-off is quoted as 2.3-2.5).
LAE_VLAS = 2.5
TIERS = ("optimal", "good", "review")
#: One in this many agreement phantoms is also uploaded in each of the six forms.
FORMS_SHARE = 4


def _jpeg_rgb(image: Image.Image) -> Image.Image:
    return Image.open(io.BytesIO(_jpeg(image.convert("RGB")))).convert("RGB")


def _frames(runtime: Any, images: list[Image.Image]) -> list[FrameResult]:
    """Each image's result, as a worker computes it; concurrent, so batches form."""
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(lambda im: measure_frame(runtime, {"image": im}, None), images))


def _measure_radiographs(runtime: Any, phantoms: list[Any], tally: _Tally) -> None:
    """Every phantom through the worker's pipeline, every other one as an RGB JPEG (as
    clients upload them), counted in ``tally``."""
    images = [_jpeg_rgb(p.image) if i % 2 else p.image for i, p in enumerate(phantoms)]
    for index, (phantom, image, frame) in enumerate(
        zip(phantoms, images, _frames(runtime, images), strict=True)
    ):
        kind = "radiograph_rgb_jpeg" if index % 2 else "radiograph"
        tally.radiograph(kind, phantom.truth, frame, image.size)


def evaluate(runtime: Any, n: int, seed: int, n_agreement: int = N_AGREEMENT) -> dict[str, Any]:
    """Measurement, visibility and result codes on ``n`` held-out radiographs; rejection on
    those and ``n`` non-radiographs; agreement on both the held-out set and ``n_agreement``
    phantoms of the agreement set; rejection of upload forms and of real sample images.

    Every other radiograph is fed as an RGB JPEG (as clients upload them).  Errors count the
    phantoms whose truth makes the measurement possible and that the API measured; how often
    it declined a measurable one (and spotted an unmeasurable one) is reported beside them.
    Landmark errors are in the original image's pixels, over measured frames' visible points.
    ``samples`` holds the per-phantom pairs the plots draw (not a published figure).
    """
    dataset_seed = evaluation_dataset_seed(seed)
    tally = _Tally()
    phantoms = list(draw_dataset(n, dataset_seed))
    _measure_radiographs(runtime, phantoms, tally)
    negatives = list(draw_negatives(n, dataset_seed))
    for (_, kind), frame in zip(
        negatives, _frames(runtime, [im for im, _ in negatives]), strict=True
    ):
        tally.verdicts.setdefault(kind, []).append(frame.rejected)
    result = _report(n, seed, tally)
    result["held_out_agreement"] = _agreement_figures(tally)
    result["visibility"]["visible_atrium_code_4_rate"] = agreement.rate(tally.visible_atrium_code_4)
    result["vhs_by_confidence"] = _tiers(tally)
    result["negatives"] = {
        kind: {"n": len(v), "rejected": int(sum(v))}
        for kind, v in sorted(tally.verdicts.items())
        if not kind.startswith("radiograph")
    }
    samples = {"held_out": tally.samples()}
    if n_agreement:
        agreed, forms = _agreement_set(runtime, n_agreement, seed)
        result["agreement"] = agreed.pop("figures")
        result["forms"] = forms
        samples["agreement"] = agreed["samples"]
    result["sample_images"] = _sample_images(runtime)
    result["samples"] = samples
    return result


def write_plots(result: dict[str, Any], directory: Path) -> list[Path]:
    """The agreement set's plots as PNGs in ``directory`` (the held-out set's when the
    agreement set was not drawn); each title says which set it shows."""
    from inference import evaluation_plots as plots

    samples = result["samples"]
    if "agreement" in samples:
        chosen, lae = samples["agreement"], result["agreement"]["lae"]
        where = f"agreement set, {result['agreement']['n']} straight films, seed {result['seed']}"
    else:
        chosen, lae = samples["held_out"], result["held_out_agreement"]["lae"]
        where = f"held-out set, {result['n']} radiographs, seed {result['seed']}"
    vhs, vlas = chosen["vhs"], chosen["vlas"]
    errors: dict[str, list[float]] = {tier: [] for tier in TIERS}
    for tier, measured, truth in zip(chosen["tiers"], vhs["measured"], vhs["truth"], strict=True):
        errors.setdefault(tier, []).append(abs(measured - truth))
    cut = f"{LAE_VLAS:g}"
    return [
        plots.bland_altman(
            directory / "vhs_bland_altman.png",
            vhs["measured"],
            vhs["truth"],
            f"VHS Bland-Altman ({where})",
            "VHS",
        ),
        plots.scatter(
            directory / "vhs_scatter.png",
            vhs["measured"],
            vhs["truth"],
            f"VHS measured against true ({where})",
            0.5,
            "VHS",
        ),
        plots.bland_altman(
            directory / "vlas_bland_altman.png",
            vlas["measured"],
            vlas["truth"],
            f"VLAS Bland-Altman ({where})",
            "VLAS",
        ),
        plots.scatter(
            directory / "vlas_scatter.png",
            vlas["measured"],
            vlas["truth"],
            f"VLAS measured against true ({where})",
            0.5,
            "VLAS",
        ),
        plots.error_by_group(
            directory / "vhs_error_by_confidence.png",
            errors,
            f"VHS absolute error by model_confidence ({where})",
            "|measured - true| VHS",
        ),
        plots.confusion_matrix(
            directory / "vlas_lae_confusion.png",
            [[lae["tp"], lae["fn"]], [lae["fp"], lae["tn"]]],
            [f"true >= {cut}", f"true < {cut}"],
            [f"measured >= {cut}", f"measured < {cut}"],
            f"Left-atrial enlargement, VLAS >= {cut}: sensitivity {_fraction(lae['sensitivity'])}"
            f", specificity {_fraction(lae['specificity'])} ({where})",
            "truth",
            "measured",
        ),
    ]


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _agreement_set(runtime: Any, n: int, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The agreement set's figures (every other phantom as an RGB JPEG, as in the held-out
    set), and its first ``n // FORMS_SHARE`` phantoms (at least one) in each upload form."""
    phantoms = list(draw_agreement_set(n, seed))
    tally = _Tally()
    _measure_radiographs(runtime, phantoms, tally)
    radiographs = tally.verdicts["radiograph"] + tally.verdicts["radiograph_rgb_jpeg"]
    figures = {
        "n": n,
        "phantom_seeds": [
            phantoms[0].truth["seed"] if phantoms else None,
            phantoms[-1].truth["seed"] if phantoms else None,
        ],
        "vhs_drawn": list(AGREEMENT_VHS),
        "vlas_drawn": list(AGREEMENT_VLAS),
        "rejected": len(radiographs) - int(sum(radiographs)),
        "result_codes": {str(code): count for code, count in sorted(tally.codes.items())},
        "vhs_declined_rate": agreement.rate(tally.vhs_declined),
        "vlas_declined_rate": agreement.rate(tally.vlas_declined),
        "visible_atrium_code_4_rate": agreement.rate(tally.visible_atrium_code_4),
        "vhs_by_confidence": _tiers(tally),
        **_agreement_figures(tally),
    }
    forms: dict[str, Any] = {}
    chosen = phantoms[: max(1, n // FORMS_SHARE)]
    for form, encode in FORMS.items():
        frames = _decoded_frames(runtime, [encode(p.image) for p in chosen])
        errors = [
            abs(f.vhs - p.truth["vhs"])
            for p, f in zip(chosen, frames, strict=True)
            if f.measured and f.vhs is not None
        ]
        forms[form] = {
            "n": len(chosen),
            "rejected": int(sum(f.rejected for f in frames)),
            "n_vhs_measured": len(errors),
            "vhs_mae": round(float(np.mean(errors)), 4) if errors else None,
        }
    return {"figures": figures, "samples": tally.samples()}, forms


def _agreement_figures(tally: _Tally) -> dict[str, Any]:
    vhs_measured, vhs_truth = tally.vhs_pairs
    vlas_measured, vlas_truth = tally.vlas_pairs
    return {
        "vhs": agreement.agreement(vhs_measured, vhs_truth),
        "vlas": agreement.agreement(vlas_measured, vlas_truth),
        "lae": agreement.threshold_confusion(vlas_measured, vlas_truth, LAE_VLAS),
    }


def _tiers(tally: _Tally) -> dict[str, dict[str, Any]]:
    """VHS MAE and count per ``model_confidence`` tier, every tier listed (n 0: MAE None)."""
    measured, truth = tally.vhs_pairs
    rows = {}
    for tier in TIERS:
        chosen = [i for i, t in enumerate(tally.tiers) if t == tier]
        rows[tier] = {
            "n": len(chosen),
            "mae": agreement.mean_absolute_error(
                [measured[i] for i in chosen], [truth[i] for i in chosen]
            ),
        }
    return rows


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _png16(image: Image.Image, rgb: bool) -> bytes:
    """The 8-bit film spread over 0..65535 (x 257), as a 16-bit grey or RGB PNG."""
    wide = np.asarray(image.convert("L"), np.uint16) * 257
    if rgb:  # Pillow writes no 16-bit colour PNG; OpenCV does (three equal channels)
        import cv2

        return cv2.imencode(".png", np.dstack([wide] * 3))[1].tobytes()
    return _png(Image.fromarray(wide.astype("<u2")))


#: Upload forms: the bytes a client sends, decoded as a worker decodes them.
FORMS: dict[str, Callable[[Image.Image], bytes]] = {
    "png_gray_8bit": lambda im: _png(im.convert("L")),
    "png_rgb_8bit": lambda im: _png(im.convert("RGB")),
    "jpeg_gray_8bit": lambda im: _jpeg(im.convert("L")),
    "jpeg_rgb_8bit": lambda im: _jpeg(im.convert("RGB")),
    "png_gray_16bit": lambda im: _png16(im, rgb=False),
    "png_rgb_16bit": lambda im: _png16(im, rgb=True),
}


def _decoded_frames(runtime: Any, payloads: list[bytes]) -> list[FrameResult]:
    """Each upload's result, decoded by the worker's own decoder (``decoded_item``)."""

    def one(raw: bytes) -> FrameResult:
        with decoded_item({"image_bytes": raw}) as item:
            return measure_frame(runtime, item, None)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(one, payloads))


def _radiograph_probability(frame: FrameResult) -> float:
    """The classifier's radiograph probability (a rejection reports its confidence in the
    rejection, 1 - p; an accepted image its confidence that it is a radiograph, p)."""
    value = frame.classifier_confidence
    return round(1.0 - value if frame.rejected else value, 4)


def _sample_images(runtime: Any) -> dict[str, Any] | None:
    """Every PNG sample image scikit-image ships (its local data folder; nothing fetched):
    rejected or not, and the radiograph classifier's probability.  None without
    scikit-image (a development dependency)."""
    try:
        import skimage
    except ImportError:
        return None
    paths = sorted((Path(skimage.__file__).parent / "data").glob("*.png"))
    frames = _decoded_frames(runtime, [path.read_bytes() for path in paths])
    return {
        path.name: {"rejected": frame.rejected, "probability": _radiograph_probability(frame)}
        for path, frame in zip(paths, frames, strict=True)
    }


@dataclass
class _Tally:
    """What ``evaluate`` counts, phantom by phantom."""

    pixel_errors: list[float] = field(default_factory=list)
    verdicts: dict[str, list[bool]] = field(
        default_factory=lambda: {"radiograph": [], "radiograph_rgb_jpeg": []}
    )
    codes: Counter[int] = field(default_factory=Counter)
    vhs_declined: list[bool] = field(default_factory=list)  # measurable, yet code 0/5
    vlas_declined: list[bool] = field(default_factory=list)  # VLAS measurable, yet absent
    hidden_atrium_found: list[bool] = field(default_factory=list)  # code 4 when hidden
    cropped_found: list[bool] = field(default_factory=list)  # code 5 when cut off
    visible_atrium_code_4: list[bool] = field(default_factory=list)  # code 4 when in view
    vhs_pairs: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    vlas_pairs: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    tiers: list[str] = field(default_factory=list)  # model_confidence, beside vhs_pairs

    @property
    def vhs_errors(self) -> list[float]:
        return [abs(m - t) for m, t in zip(*self.vhs_pairs, strict=True)]

    @property
    def vlas_errors(self) -> list[float]:
        return [abs(m - t) for m, t in zip(*self.vlas_pairs, strict=True)]

    @property
    def errors_by_confidence(self) -> dict[str, list[float]]:
        """VHS errors grouped by ``model_confidence``, tiers in the order first met."""
        grouped: dict[str, list[float]] = {}
        for tier, error in zip(self.tiers, self.vhs_errors, strict=True):
            grouped.setdefault(tier, []).append(error)
        return grouped

    def samples(self) -> dict[str, Any]:
        """The measured pairs (measured, truth) and tiers, for the plots."""
        return {
            "vhs": {"measured": self.vhs_pairs[0], "truth": self.vhs_pairs[1]},
            "vlas": {"measured": self.vlas_pairs[0], "truth": self.vlas_pairs[1]},
            "tiers": list(self.tiers),
        }

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
        if truth["vlas_visible"]:
            self.visible_atrium_code_4.append(frame.result_code == 4)
        if truth["atrial_infiltrate"]:
            self.hidden_atrium_found.append(frame.result_code == 4)
        if not frame.measured or frame.landmarks is None or frame.vhs is None:
            return
        self.vhs_pairs[0].append(frame.vhs)
        self.vhs_pairs[1].append(truth["vhs"])
        self.tiers.append(frame.confidence)
        if truth["vlas_visible"]:
            self.vlas_declined.append(frame.vlas is None)
            if frame.vlas is not None:
                self.vlas_pairs[0].append(frame.vlas)
                self.vlas_pairs[1].append(truth["vlas"])
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
