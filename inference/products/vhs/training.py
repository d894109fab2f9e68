"""Train and evaluate the VHS reference models on radiograph phantoms.

Real weights live on a hub this platform cannot reach, so the repository ships models trained
here on ``inference.phantoms.vhs`` images with known landmarks.  Not for clinical use.

* **Ensemble**: ``N_FOLDS`` landmark networks, network ``k`` trained on every phantom
  whose index is not ``k`` modulo ``N_FOLDS`` (k-fold), so the members differ in data and
  initialisation and their disagreement (the API's spread) means something.  The loss is an
  L1 on the visible points plus an L1 on the four vectors VHS and VLAS are measured along
  (top-bottom, right-left, A-B, top-VLAS), which is what the product reports, plus a binary
  cross-entropy on each landmark's visibility (inside the frame, and for VLAS an atrium that
  is not hidden by an infiltrate).  Points that are not visible carry no coordinate loss.
* **Classifier**: radiographs (some saved as tinted RGB JPEGs) against ``draw_negative``
  images (colour and grayscale photographs, documents, blank frames, noise).

Seeds: training draws dataset ``2 * seed`` and evaluation ``2 * seed + 1`` (phantom ``i`` of
dataset ``d`` has seed ``d * DATASET_STRIDE + i``), so held-out phantoms are never training
phantoms.  Runs are deterministic: seeded generators, deterministic algorithms, two threads.
"""

from __future__ import annotations

import io
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional

from inference.phantoms.vhs import draw_dataset, draw_negatives
from inference.products.vhs.analysis import FrameResult, analyse_outputs
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.network import (
    INPUT_SIZE,
    OUTPUTS_PER_LANDMARK,
    LandmarkNet,
    RadiographClassifier,
    classifier_input,
    image_to_tensor,
)
from inference.runtime.reproducible import (
    evaluation_dataset_seed,
    reproducible,
    train_dataset_seed,
)

N_FOLDS = 5
WEIGHT_FILES: dict[str, str] = {
    **{f"landmarks_fold{k}": f"landmarks_fold{k}.pt" for k in range(N_FOLDS)},
    "radiograph_classifier": "radiograph_classifier.pt",
}

DEFAULT_N_TRAIN = 3000
DEFAULT_EPOCHS = 14
DEFAULT_N_NEGATIVE = 1500
CLASSIFIER_EPOCHS = 8
BATCH_SIZE = 32
TRAIN_MAX_SIDE = 320  # training phantoms are drawn small: the networks see 128 px anyway
THRESHOLD = 0.5

_LR = 2e-3
_WEIGHT_DECAY = 1e-4
_VECTOR_WEIGHT = 1.0
_VISIBILITY_WEIGHT = 0.1
# Landmark index pairs whose difference vectors VHS and VLAS are measured along.
_VECTORS = ((0, 1), (2, 3), (5, 6), (0, 4))

Log = Callable[[str], None]


def train_reference_models(
    out_dir: Path,
    seed: int = 0,
    log: Log = print,
    n_train: int = DEFAULT_N_TRAIN,
    epochs: int = DEFAULT_EPOCHS,
    n_negative: int = DEFAULT_N_NEGATIVE,
    classifier_epochs: int = CLASSIFIER_EPOCHS,
) -> dict[str, Any]:
    """Train the ensemble and the classifier, save state dicts in ``out_dir``; a summary."""
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if n_train < N_FOLDS:
        raise ValueError(f"n_train must be at least {N_FOLDS}")
    started = time.perf_counter()
    modules: dict[str, nn.Module] = {}
    stats: dict[str, Any] = {}
    with reproducible(seed):
        images, targets, positives = _radiograph_tensors(n_train, train_dataset_seed(seed), log)
        for fold in range(N_FOLDS):
            keep = torch.arange(n_train) % N_FOLDS != fold
            member, member_stats = _train_regressor(
                images[keep], targets[keep], epochs, seed * 100 + fold, log, f"fold {fold}"
            )
            modules[f"landmarks_fold{fold}"] = member
            stats[f"landmarks_fold{fold}"] = member_stats
        negatives = _negative_tensors(n_negative, train_dataset_seed(seed))
        classifier, stats["radiograph_classifier"] = _train_classifier(
            positives, negatives, classifier_epochs, seed, log
        )
        modules["radiograph_classifier"] = classifier
    files = _save(Path(out_dir), modules)
    seconds = time.perf_counter() - started
    log(f"trained in {seconds:.0f} s; weights in {out_dir}")
    return {
        "seed": seed,
        "dataset_seed": train_dataset_seed(seed),
        "n_train": n_train,
        "n_negative": n_negative,
        "epochs": epochs,
        "input_size": INPUT_SIZE,
        "models": stats,
        "seconds": round(seconds, 1),
        "files": files,
    }


def load_reference_models(model_dir: Path) -> dict[str, Any]:
    """``{"landmarks": [N_FOLDS regressors], "classifier": ...}`` in eval mode (weights_only)."""
    members = []
    for fold in range(N_FOLDS):
        members.append(
            _load(LandmarkNet(), Path(model_dir) / WEIGHT_FILES[f"landmarks_fold{fold}"])
        )
    classifier = _load(
        RadiographClassifier(), Path(model_dir) / WEIGHT_FILES["radiograph_classifier"]
    )
    return {"landmarks": members, "classifier": classifier}


def _load(module: nn.Module, path: Path) -> nn.Module:
    module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return module.eval()


# --- data -----------------------------------------------------------------------------------


def visible_landmarks(truth: dict[str, Any]) -> dict[str, bool]:
    """Which landmarks a perfect model could place: in the frame, and VLAS not hidden."""
    visible = {name: all(0.0 <= c <= 1.0 for c in truth["landmarks"][name]) for name in LANDMARKS}
    visible["VLAS"] = visible["VLAS"] and not truth.get("atrial_infiltrate", False)
    return visible


def _targets(truth: dict[str, Any]) -> torch.Tensor:
    """``[7, 3]``: x, y and 1.0 / 0.0 for visible / not."""
    visible = visible_landmarks(truth)
    return torch.tensor([[*truth["landmarks"][name], float(visible[name])] for name in LANDMARKS])


def _radiograph_tensors(
    n: int, dataset_seed: int, log: Log
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Network inputs ``[n, 1, S, S]``, targets ``[n, 7, 3]``, classifier positives."""
    images = torch.empty(n, 1, INPUT_SIZE, INPUT_SIZE)
    targets = torch.empty(n, len(LANDMARKS), OUTPUTS_PER_LANDMARK)
    positives = []
    rng = np.random.default_rng([dataset_seed, 7])
    started = time.perf_counter()
    for index, phantom in enumerate(draw_dataset(n, dataset_seed, max_side=TRAIN_MAX_SIDE)):
        images[index] = image_to_tensor(phantom.image)
        targets[index] = _targets(phantom.truth)
        if index % 2 == 0:
            positives.append(classifier_input(_as_stored(phantom.image, rng)))
        if (index + 1) % 1000 == 0 or index + 1 == n:
            log(f"radiograph phantoms {index + 1}/{n} ({time.perf_counter() - started:.0f} s)")
    return images, targets, torch.stack(positives)


def _as_stored(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A radiograph as clients store it: often RGB, sometimes faintly tinted, often JPEG."""
    if rng.random() < 0.5:
        return image
    pixels = np.asarray(image.convert("RGB"), np.float32)
    if rng.random() < 0.4:
        pixels *= 1.0 + rng.uniform(-0.06, 0.06, 3).astype(np.float32)
    rgb = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.7:
        buffer = io.BytesIO()
        rgb.save(buffer, format="JPEG", quality=int(rng.integers(60, 96)))
        rgb = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return rgb


def _negative_tensors(n: int, dataset_seed: int) -> torch.Tensor:
    images = [classifier_input(image) for image, _kind in draw_negatives(n, dataset_seed, 360)]
    return torch.stack(images) if images else torch.empty(0, 2, INPUT_SIZE, INPUT_SIZE)


# --- training -------------------------------------------------------------------------------


def landmark_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 on the visible points and on the measured vectors, plus visibility cross-entropy.

    ``predicted`` and ``target`` are ``[B, 7, 3]`` (x, y, visibility logit / label).
    """
    points, truth, visible = predicted[..., :2], target[..., :2], target[..., 2]
    errors = functional.smooth_l1_loss(points, truth, beta=0.01, reduction="none").sum(dim=2)
    loss = (errors * visible).sum() / visible.sum().clamp(min=1.0)
    for a, b in _VECTORS:
        both = visible[:, a] * visible[:, b]
        vector_errors = functional.smooth_l1_loss(
            points[:, a] - points[:, b], truth[:, a] - truth[:, b], beta=0.01, reduction="none"
        ).sum(dim=1)
        vector_loss = (vector_errors * both).sum() / both.sum().clamp(min=1.0)
        loss = loss + _VECTOR_WEIGHT * vector_loss / len(_VECTORS)
    visibility = functional.binary_cross_entropy_with_logits(predicted[..., 2], visible)
    return loss + _VISIBILITY_WEIGHT * visibility


def _jitter(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Cheap photometric augmentation on standardised images: contrast and added noise."""
    count = images.shape[0]
    contrast = 1.0 + 0.2 * (torch.rand(count, 1, 1, 1, generator=generator) - 0.5)
    noise = 0.1 * torch.rand(count, 1, 1, 1, generator=generator)
    return images * contrast + noise * torch.randn(images.shape, generator=generator)


def _train_regressor(
    images: torch.Tensor, targets: torch.Tensor, epochs: int, seed: int, log: Log, name: str
) -> tuple[LandmarkNet, dict[str, float]]:
    torch.manual_seed(seed)
    model = LandmarkNet().to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=_LR, weight_decay=_WEIGHT_DECAY)
    steps = epochs * math.ceil(len(images) / BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=_LR, total_steps=max(steps, 1))
    generator = torch.Generator().manual_seed(seed)
    loss_value = math.nan
    for epoch in range(1, epochs + 1):
        model.train()
        started, total = time.perf_counter(), 0.0
        for batch in torch.randperm(len(images), generator=generator).split(BATCH_SIZE):
            inputs = _jitter(images[batch], generator).contiguous(memory_format=torch.channels_last)
            loss = landmark_loss(model(inputs), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        loss_value = total / len(images)
        seconds = time.perf_counter() - started
        log(f"{name} epoch {epoch}/{epochs}: loss {loss_value:.5f} ({seconds:.0f} s)")
    model = model.to(memory_format=torch.contiguous_format).eval()
    return model, {"loss": round(loss_value, 6), "n": len(images)}


def _train_classifier(
    positives: torch.Tensor, negatives: torch.Tensor, epochs: int, seed: int, log: Log
) -> tuple[RadiographClassifier, dict[str, float]]:
    torch.manual_seed(seed + 7)
    model = RadiographClassifier()
    inputs = torch.cat([positives, negatives])
    labels = torch.cat([torch.ones(len(positives)), torch.zeros(len(negatives))])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=_WEIGHT_DECAY)
    steps = epochs * math.ceil(len(inputs) / BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=3e-3, total_steps=max(steps, 1)
    )
    generator = torch.Generator().manual_seed(seed + 7)
    for _epoch in range(epochs):
        model.train()
        for batch in torch.randperm(len(inputs), generator=generator).split(BATCH_SIZE):
            flips = torch.rand(len(batch), generator=generator) < 0.5
            batch_inputs = torch.where(
                flips.view(-1, 1, 1, 1), inputs[batch].flip(3), inputs[batch]
            )
            logits = model(batch_inputs).squeeze(1)
            loss = functional.binary_cross_entropy_with_logits(logits, labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.inference_mode():
        logits = torch.cat([model(chunk) for chunk in inputs.split(256)]).squeeze(1)
    accuracy = float(((logits > 0) == (labels > 0.5)).float().mean())
    loss = float(functional.binary_cross_entropy_with_logits(logits, labels))
    log(f"classifier: train loss {loss:.4f} accuracy {accuracy:.4f}")
    return model, {"loss": round(loss, 5), "accuracy": round(accuracy, 4), "n": len(labels)}


def _save(out_dir: Path, modules: dict[str, nn.Module]) -> dict[str, dict[str, Any]]:
    """State dicts only (never pickled modules), so they load with ``weights_only=True``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for role, module in modules.items():
        path = out_dir / WEIGHT_FILES[role]
        torch.save(module.state_dict(), path)
        files[role] = {"filename": path.name, "bytes": path.stat().st_size}
    return files


# --- evaluation -----------------------------------------------------------------------------


def ensemble_frame(models: dict[str, Any], image: Image.Image) -> FrameResult:
    """One image through the classifier and the ensemble, analysed exactly as the API does."""
    with torch.inference_mode():
        probability = float(torch.sigmoid(models["classifier"](classifier_input(image)[None])))
        inputs = image_to_tensor(image)[None]
        rows = torch.stack([member(inputs)[0] for member in models["landmarks"]])
        rows = torch.cat([rows[..., :2], torch.sigmoid(rows[..., 2:])], dim=-1)
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
        accepted = radiograph_probability(models["classifier"], image) >= THRESHOLD
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
        visible = visible_landmarks(truth)
        for name in LANDMARKS:
            if visible[name]:
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
