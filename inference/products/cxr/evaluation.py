"""Evaluate the chest X-ray reference model on held-out phantoms, through the serving runtime.

``evaluate`` draws held-out studies (``evaluation_dataset_seed``: never a training or a
validation study) at their full size, writes each as a DICOM file in its own encoding, reads
it back with ``inference.imaging.dicom.read_image`` (what the worker's decoder does) and
scores the display pixels with the runtime's ``findings`` group (``runtime.predict``: the
worker's own predictor and batcher, several studies in flight so batches form).  When the
runtime also runs the whole product pipeline (``runtime.run`` answering ``all_findings``),
a few studies go through it too and the presence it reports is compared with the
thresholds applied here.  It reports:

* per finding: AUROC, and sensitivity and specificity at ``THRESHOLDS`` (chosen by the
  training on a validation split disjoint from both the training and this evaluation,
  maximising Youden's J), and the macro AUROC;
* localisation: for every present finding, whether the hottest cell of *that finding's own*
  16x16 class activation map, upsampled to the phantom's 32x32 mask grid (one map cell is
  2x2 mask cells), touches the lesion the phantom drew, the mask **dilated by one mask cell**
  (1/32 of the image side; the coarse mask marks cells a tenth covered, so a lesion's rim can
  fall just outside it).  The strict figure (undilated mask) is reported beside it;
* the same measure for two fixed priors, which ignore the image: the finding's mean model
  map over training studies where it is present (``prior="model"``, the mean heatmap), and
  the finding's mean truth mask over those studies (``prior="truth"``, where lesions of that
  kind lie, the strongest fixed guess).  The figure measures localisation only as far as it
  beats both.

``score_images`` is the one scoring path: the stand-in runtime, the training's validation
and the product's predictor use the same ``network`` functions (``image_to_tensor``, then
``FindingsNet``, then a sigmoid).  This module imports torch only when it scores, so the web
tier and the declaration may import ``THRESHOLDS``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from inference.products.cxr.apps import CxrConfig
from inference.products.cxr.labels import FINDINGS

if TYPE_CHECKING:
    import torch

#: Per finding, the probability at or above which it is present: chosen by
#: ``train_reference_models --seed 0`` on its validation studies (Youden's J), also in
#: ``models/cxr/manifest.json`` (notes.thresholds); written once, as the product's
#: ``CXR_THRESHOLDS`` default in its declaration.
THRESHOLDS: dict[str, float] = CxrConfig.settings_defaults["CXR_THRESHOLDS"]

#: The phantoms' truth mask grid (``inference.phantoms.cxr.MASK_SIZE``).
MASK_SIZE = 32
#: The score maps' grid (``inference.products.cxr.network.MAP_SIZE``).
MAP_SIZE = 16
#: How far (mask cells) a hit may fall outside the drawn mask.
DILATION_CELLS = 1
#: Studies the prior maps are averaged over (training studies, drawn at training size).
PRIOR_STUDIES = 600
#: Training study ``i`` is drawn at ``PRIOR_SIZES[i % 3]`` (``training.TRAIN_SIZES``).
PRIOR_SIZES: tuple[int, ...] = (320, 384, 512)
#: Studies also sent through the whole pipeline, when the runtime has one.
PIPELINE_STUDIES = 8
CONCURRENCY = 8
DRAW_WORKERS = 2
MAX_PIXELS = 50_000_000


# --- the scoring path ----------------------------------------------------------------------


def score_tensors(
    net: Any, inputs: torch.Tensor, batch_size: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Network inputs ``[N, 1, S, S]`` -> probabilities ``[N, 11]`` and maps ``[N, 11, 16,
    16]`` (CPU float32), in batches, under ``inference_mode``, on the network's device, in
    eval mode."""
    import torch

    device = next(net.parameters()).device
    net.eval()  # and left so: threads may share the network
    probabilities, maps = [], []
    with torch.inference_mode():
        for chunk in inputs.split(batch_size):
            logits, chunk_maps = net(chunk.to(device=device, dtype=torch.float32))
            probabilities.append(torch.sigmoid(logits).float().cpu())
            maps.append(chunk_maps.float().cpu())
    count = len(FINDINGS)
    if not probabilities:
        return torch.empty(0, count), torch.empty(0, count, MAP_SIZE, MAP_SIZE)
    return torch.cat(probabilities), torch.cat(maps)


def score_images(
    net: Any, pixel_arrays: Iterable[np.ndarray], batch_size: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Display images (float 0..1, bright = dense, any size, as ``read_image`` gives them)
    -> probabilities ``[N, 11]`` and class activation maps ``[N, 11, 16, 16]``.

    ``network.image_to_tensor`` then ``FindingsNet`` then a sigmoid: what the product's
    predictor does to one study, here for several.  CPU float32 tensors.
    """
    import torch

    from inference.products.cxr.network import image_to_tensor

    tensors = [image_to_tensor(pixels) for pixels in pixel_arrays]
    if not tensors:
        return score_tensors(net, torch.empty(0, 1, 1, 1))
    return score_tensors(net, torch.stack(tensors), batch_size)


class StandInRuntime:
    """The findings network served in this process: ``predict`` answers what the product's
    ``findings`` group answers (``{"probabilities": [11 floats], "maps": [11, 16, 16]}``),
    ``run`` decodes a DICOM item (``image_bytes``) first, as the worker's decoder does."""

    def __init__(self, net: Any, max_pixels: int = MAX_PIXELS) -> None:
        self.net = net.eval()
        self.max_pixels = max_pixels

    def predict(
        self, group: str, item: dict[str, Any], deadline: float | None = None
    ) -> dict[str, Any]:
        if group != "findings":
            raise KeyError(group)
        probabilities, maps = score_images(self.net, [item["pixels"]])
        return {"probabilities": [float(p) for p in probabilities[0]], "maps": maps[0]}

    def run(self, item: dict[str, Any], deadline: float | None = None) -> dict[str, Any]:
        from inference.imaging.dicom import read_image

        study = read_image(bytes(item["image_bytes"]), max_pixels=self.max_pixels)
        return self.predict("findings", {"pixels": study.pixels}, deadline)


# --- metrics --------------------------------------------------------------------------------


def auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties count a half); None without both classes."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks (1-based) over runs of tied scores.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    u = ranks[labels].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


def youden_threshold(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> float:
    """The threshold (present when ``score >= t``) maximising sensitivity + specificity - 1.

    The candidates lie midway between consecutive distinct scores, so the choice does not
    sit on a validation study's own score; among equal J the most specific one wins.
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        raise ValueError("a threshold needs positives and negatives")
    distinct = np.unique(scores)[::-1]  # descending
    candidates = np.r_[distinct[0] + 1e-6, (distinct[:-1] + distinct[1:]) / 2.0, distinct[-1]]
    best, best_j = float(candidates[0]), -np.inf
    for threshold in candidates:
        predicted = scores >= threshold
        j = predicted[labels].mean() + (~predicted[~labels]).mean() - 1.0
        if j > best_j + 1e-12:
            best, best_j = float(threshold), j
    return best


def rounded_threshold(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> float:
    """``youden_threshold`` rounded down to 4 decimals (a setting; a boundary study keeps
    its side)."""
    return float(np.floor(youden_threshold(scores, labels) * 1e4) / 1e4)


def choose_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Youden's J per finding (``[N, 11]`` probabilities and 0/1 labels), 4 decimals."""
    return {
        name: rounded_threshold(probabilities[:, k], labels[:, k])
        for k, name in enumerate(FINDINGS)
    }


def sensitivity_specificity(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, threshold: float
) -> tuple[float | None, float | None]:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    predicted = scores >= threshold
    sensitivity = float(predicted[labels].mean()) if labels.any() else None
    specificity = float((~predicted[~labels]).mean()) if (~labels).any() else None
    return sensitivity, specificity


def hottest_cell(score_map: np.ndarray) -> tuple[int, int]:
    """``(row, column)`` of a map's largest value (the first one, row-major, on ties)."""
    score_map = np.asarray(score_map)
    row, column = np.unravel_index(int(np.argmax(score_map)), score_map.shape)
    return int(row), int(column)


def dilate(mask: np.ndarray, cells: int = DILATION_CELLS) -> np.ndarray:
    """A boolean mask grown by ``cells`` in every direction (a square structuring element)."""
    mask = np.asarray(mask, dtype=bool)
    grown = mask.copy()
    height, width = mask.shape
    for dy in range(-cells, cells + 1):
        for dx in range(-cells, cells + 1):
            shifted = np.zeros_like(mask)
            shifted[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = mask[
                max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
            ]
            grown |= shifted
    return grown


def cell_in_mask(cell: tuple[int, int], mask: np.ndarray, map_size: int = MAP_SIZE) -> bool:
    """Whether a map cell, upsampled to the mask's grid, overlaps the (boolean) mask."""
    mask = np.asarray(mask, dtype=bool)
    scale_y, scale_x = mask.shape[0] // map_size, mask.shape[1] // map_size
    row, column = cell
    block = mask[row * scale_y : (row + 1) * scale_y, column * scale_x : (column + 1) * scale_x]
    return bool(block.any())


def hits(score_map: np.ndarray, mask: np.ndarray, dilation: int = DILATION_CELLS) -> bool:
    """Whether the hottest cell of ``score_map`` (16x16) falls in ``mask`` (32x32) dilated
    by ``dilation`` mask cells."""
    grown = dilate(mask, dilation) if dilation else np.asarray(mask, dtype=bool)
    return cell_in_mask(hottest_cell(score_map), grown, np.asarray(score_map).shape[0])


def prior_maps(maps: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray | None]:
    """Per finding, the mean of ``maps[:, k]`` over the studies where it is present.

    ``maps`` is ``[N, 11, H, W]`` (model maps, or truth masks as floats); None for a finding
    no study has.
    """
    priors: dict[str, np.ndarray | None] = {}
    for k, name in enumerate(FINDINGS):
        present = np.asarray(labels)[:, k].astype(bool)
        priors[name] = np.asarray(maps)[present, k].mean(axis=0) if present.any() else None
    return priors


def _downsample_max(mask: np.ndarray, size: int) -> np.ndarray:
    height, width = mask.shape
    return mask.reshape(size, height // size, size, width // size).max(axis=(1, 3))


def localisation(
    maps: np.ndarray,
    masks: np.ndarray,
    labels: np.ndarray,
    priors: dict[str, dict[str, np.ndarray | None]] | None = None,
    dilation: int = DILATION_CELLS,
) -> dict[str, Any]:
    """Hit rates of the hottest cell, over every present finding.

    ``maps``: ``[N, 11, 16, 16]`` model maps; ``masks``: ``[N, 11, 32, 32]`` truth masks
    (bool; only the present findings' are read); ``labels``: ``[N, 11]``.  ``priors``:
    named fixed maps per finding (each scored as if it were every study's map).
    """
    priors = priors or {}
    labels = np.asarray(labels).astype(bool)
    per_finding: dict[str, dict[str, Any]] = {}
    totals: dict[str, list[bool]] = {"hit": [], "strict": [], **{p: [] for p in priors}}
    for k, name in enumerate(FINDINGS):
        rows = np.flatnonzero(labels[:, k])
        counts: dict[str, list[bool]] = {key: [] for key in totals}
        for i in rows:
            mask = np.asarray(masks[i, k], dtype=bool)
            if not mask.any():
                continue
            counts["hit"].append(hits(maps[i, k], mask, dilation))
            counts["strict"].append(hits(maps[i, k], mask, 0))
            for prior_name, prior in priors.items():
                fixed = prior.get(name)
                counts[prior_name].append(bool(fixed is not None and hits(fixed, mask, dilation)))
        for key, values in counts.items():
            totals[key] += values
        per_finding[name] = {
            "n": len(counts["hit"]),
            **{key: _rate(v) for key, v in counts.items()},
        }
    return {
        "n": len(totals["hit"]),
        "dilation_cells": dilation,
        **{key: _rate(values) for key, values in totals.items()},
        "per_finding": per_finding,
    }


def _rate(values: list[bool]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def classification(
    probabilities: np.ndarray, labels: np.ndarray, thresholds: dict[str, float]
) -> dict[str, Any]:
    """Per-finding AUROC, sensitivity and specificity at ``thresholds``; macro AUROC."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels).astype(int)
    per_finding = {}
    for k, name in enumerate(FINDINGS):
        sensitivity, specificity = sensitivity_specificity(
            probabilities[:, k], labels[:, k], thresholds[name]
        )
        area = auroc(probabilities[:, k], labels[:, k])
        per_finding[name] = {
            "n_positive": int(labels[:, k].sum()),
            "n_negative": int((1 - labels[:, k]).sum()),
            "auroc": None if area is None else round(area, 4),
            "threshold": thresholds[name],
            "sensitivity": None if sensitivity is None else round(sensitivity, 4),
            "specificity": None if specificity is None else round(specificity, 4),
        }
    areas = [row["auroc"] for row in per_finding.values() if row["auroc"] is not None]
    return {
        "macro_auroc": round(float(np.mean(areas)), 4) if areas else None,
        "per_finding": per_finding,
    }


# --- evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Study:
    dicom: bytes
    labels: np.ndarray  # [11] 0/1
    masks: np.ndarray  # [11, 32, 32] bool
    shape: tuple[int, int]


def draw_encoded(seed: int, size: int | None = None) -> _Study:
    """Phantom ``seed`` as a DICOM file with its labels and truth masks."""
    from inference.phantoms.cxr import draw_study, mask_array, save_dicom

    phantom = draw_study(seed, size=size)
    buffer = io.BytesIO()
    save_dicom(phantom, buffer)
    masks = np.zeros((len(FINDINGS), MASK_SIZE, MASK_SIZE), dtype=bool)
    for name, lesion in phantom.truth["lesions"].items():
        masks[FINDINGS.index(name)] = mask_array(lesion["mask"])
    labels = np.array([phantom.truth["labels"][name] for name in FINDINGS], dtype=np.int64)
    return _Study(buffer.getvalue(), labels, masks, tuple(phantom.pixels.shape))


def _draw_encoded(args: tuple[int, int | None]) -> _Study:
    return draw_encoded(*args)


def _studies(jobs: list[tuple[int, int | None]], workers: int) -> Iterator[_Study]:
    """The studies ``(seed, size)`` in order; drawn by ``workers`` processes (0: here)."""
    if workers <= 0 or len(jobs) < 2:
        yield from map(_draw_encoded, jobs)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield from pool.map(_draw_encoded, jobs, chunksize=4)


def _score(runtime: Any, studies: Iterable[_Study], max_pixels: int) -> list[tuple[_Study, dict]]:
    """Each study read back from its DICOM and scored by the runtime's findings group."""
    from inference.imaging.dicom import read_image

    def one(study: _Study) -> tuple[_Study, dict]:
        pixels = read_image(study.dicom, max_pixels=max_pixels).pixels
        return study, runtime.predict("findings", {"pixels": pixels}, None)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(one, studies))


def _arrays(scored: list[tuple[_Study, dict]]) -> tuple[np.ndarray, ...]:
    probabilities = np.array([r["probabilities"] for _, r in scored], dtype=np.float64)
    maps = np.stack([np.asarray(r["maps"], dtype=np.float32) for _, r in scored])
    labels = np.stack([s.labels for s, _ in scored])
    masks = np.stack([s.masks for s, _ in scored])
    return probabilities, maps, labels, masks


def _pipeline_agreement(
    runtime: Any, scored: list[tuple[_Study, dict]], thresholds: dict[str, float]
) -> dict[str, Any] | None:
    """The whole pipeline on a few studies: does its presence match the thresholds here?"""
    if not hasattr(runtime, "run") or not scored:
        return None
    agree, checked = 0, 0
    for study, result in scored[:PIPELINE_STUDIES]:
        rows, columns = study.shape
        answer = runtime.run({"image_bytes": study.dicom, "decoded_bytes": rows * columns * 8})
        if "all_findings" not in answer:
            return None
        reported = [bool(f["presence"]) for f in answer["all_findings"]]
        expected = [
            p >= thresholds[n] for n, p in zip(FINDINGS, result["probabilities"], strict=True)
        ]
        checked += 1
        agree += reported == expected
    return {"studies": checked, "presence_agrees": agree}


def evaluate(
    runtime: Any,
    n: int,
    seed: int,
    *,
    size: int | None = None,
    n_prior: int = PRIOR_STUDIES,
    prior_sizes: tuple[int, ...] = PRIOR_SIZES,
    training_seed: int = 0,
    thresholds: dict[str, float] | None = None,
    workers: int = DRAW_WORKERS,
    max_pixels: int = MAX_PIXELS,
) -> dict[str, Any]:
    """Classification and localisation on ``n`` held-out studies (see the module doc).

    ``runtime.predict("findings", {"pixels": ...})`` must answer the product's findings
    group's output: 11 probabilities in ``FINDINGS`` order and the ``[11, 16, 16]`` maps.
    ``size`` draws the held-out studies smaller (tests; None: their own size, 640-1024 px).
    The priors average the runtime's maps over the first ``n_prior`` studies the model was
    trained on (``training_seed``: the shipped model's, ``notes.seed`` in its manifest),
    each drawn at the size the training drew it (``prior_sizes``).
    """
    from inference.phantoms.cxr import DATASET_STRIDE
    from inference.runtime.reproducible import evaluation_dataset_seed, train_dataset_seed

    thresholds = dict(thresholds or THRESHOLDS)
    dataset_seed = evaluation_dataset_seed(seed)
    held_out = [(dataset_seed * DATASET_STRIDE + i, size) for i in range(n)]
    scored = _score(runtime, _studies(held_out, workers), max_pixels)
    probabilities, maps, labels, masks = _arrays(scored)

    prior_jobs = [
        (train_dataset_seed(training_seed) * DATASET_STRIDE + i, prior_sizes[i % len(prior_sizes)])
        for i in range(n_prior)
    ]
    prior_scored = _score(runtime, _studies(prior_jobs, workers), max_pixels)
    _, prior_model_maps, prior_labels, prior_masks = _arrays(prior_scored)
    priors = {
        "prior_model": prior_maps(prior_model_maps, prior_labels),
        "prior_truth": prior_maps(prior_masks.astype(np.float32), prior_labels),
    }
    located = localisation(maps, masks, labels, priors)
    baseline = max(
        (v for v in (located["prior_model"], located["prior_truth"]) if v is not None),
        default=None,
    )
    return {
        "n": n,
        "seed": seed,
        "dataset_seed": dataset_seed,
        "n_prior": n_prior,
        "prior_dataset_seed": train_dataset_seed(training_seed),
        **classification(probabilities, labels, thresholds),
        "localisation": located,
        "localisation_margin": None
        if baseline is None or located["hit"] is None
        else round(located["hit"] - baseline, 4),
        "detected_localisation": _detected(maps, masks, labels, probabilities, thresholds),
        "pipeline": _pipeline_agreement(runtime, scored, thresholds),
    }


def _detected(
    maps: np.ndarray,
    masks: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    thresholds: dict[str, float],
) -> float | None:
    """The hit rate over the positives the model also reports (what the heatmap shows)."""
    limits = np.array([thresholds[name] for name in FINDINGS])
    reported = np.asarray(labels).astype(bool) & (probabilities >= limits)
    return localisation(maps, masks, reported)["hit"]
