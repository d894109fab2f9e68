"""Train the leukemia reference models on blood-smear phantoms (``evaluation`` measures them).

Real weights live on a hub this platform cannot reach, so the repository ships models trained
here, on ``inference.phantoms.leukemia`` images with known classes.  Not for clinical use.

Pipeline, mirroring the three weight files the product serves:

1. the ``FeatureExtractor`` is trained end to end with a temporary linear head (Adam, one-cycle
   learning rate, random flips/transposes: a cell has no preferred orientation);
2. the ``FeatureScaler`` is fitted to the extractor's features on the training images;
3. the ``Classifier`` is trained on the scaled features.

Seeds: ``draw_dataset(n, dataset_seed)`` gives image ``i`` the cell seed
``dataset_seed * DATASET_STRIDE + i``.  Training uses dataset seed ``2 * seed`` (even) and
evaluation ``2 * seed + 1`` (odd), so for any pair of seeds the training and evaluation cell
seeds lie in disjoint blocks: no held-out image can be a training image.

Runs are deterministic: seeded generators, deterministic algorithms, two CPU threads; the
process-wide torch settings are restored afterwards.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from inference.phantoms.leukemia import CLASSES, draw_dataset
from inference.products.leukemia.network import (
    FEATURE_DIM,
    INPUT_SIZE,
    Classifier,
    FeatureExtractor,
    FeatureScaler,
    image_to_tensor,
)
from inference.runtime.reproducible import (
    reproducible,
    train_dataset_seed,
)

WEIGHT_FILES: dict[str, str] = {
    "feature_extractor": "feature_extractor.pt",
    "scaler": "feature_scaler.pt",
    "classifier": "classifier.pt",
}

DEFAULT_N_PER_CLASS = 2000
DEFAULT_EPOCHS = 12
BATCH_SIZE = 64
INFERENCE_BATCH_SIZE = 256
PHANTOM_SIZE = 128

_EXTRACTOR_LR = 3e-3
_CLASSIFIER_LR = 3e-3
_CLASSIFIER_EPOCHS = 30
_WEIGHT_DECAY = 1e-4
_LABEL_SMOOTHING = 0.05

Log = Callable[[str], None]
Models = tuple[FeatureExtractor, FeatureScaler, Classifier]


def train_reference_models(
    out_dir: Path,
    seed: int = 0,
    log: Log = print,
    n_per_class: int = DEFAULT_N_PER_CLASS,
    epochs: int = DEFAULT_EPOCHS,
) -> dict[str, Any]:
    """Train the three models, save their state dicts in ``out_dir``; a JSON-safe summary."""
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    started = time.perf_counter()
    with reproducible(seed):
        images, labels = _phantom_tensors(n_per_class, train_dataset_seed(seed), log)
        extractor, extractor_stats = _train_extractor(images, labels, epochs, seed, log)
        features = _extract(extractor, images)
        scaler = _fit_scaler(features)
        classifier, classifier_stats = _train_classifier(scaler(features), labels, seed, log)
    modules = {"feature_extractor": extractor, "scaler": scaler, "classifier": classifier}
    files = _save(Path(out_dir), modules)
    seconds = time.perf_counter() - started
    log(f"trained in {seconds:.0f} s; weights in {out_dir}")
    return {
        "seed": seed,
        "dataset_seed": train_dataset_seed(seed),
        "n_train": len(labels),
        "n_per_class": n_per_class,
        "epochs": epochs,
        "input_size": INPUT_SIZE,
        "feature_dim": FEATURE_DIM,
        "extractor": extractor_stats,
        "classifier": classifier_stats,
        "train_loss": classifier_stats["loss"],
        "train_accuracy": classifier_stats["accuracy"],
        "seconds": round(seconds, 1),
        "files": files,
    }


def load_reference_models(model_dir: Path) -> Models:
    """The three models from ``model_dir``, in eval mode; weights loaded with weights_only."""
    modules = (FeatureExtractor(), FeatureScaler(), Classifier())
    for role, module in zip(("feature_extractor", "scaler", "classifier"), modules, strict=True):
        path = Path(model_dir) / WEIGHT_FILES[role]
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        module.eval()
    return modules


# --- data -----------------------------------------------------------------------------------


def _phantom_tensors(
    n_per_class: int, dataset_seed: int, log: Log
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training set as model inputs ``[N, 3, S, S]`` and class indices ``[N]``."""
    total = n_per_class * len(CLASSES)
    images = torch.empty(total, 3, INPUT_SIZE, INPUT_SIZE)
    labels = torch.empty(total, dtype=torch.int64)
    started = time.perf_counter()
    for index, cell in enumerate(draw_dataset(n_per_class, dataset_seed, PHANTOM_SIZE)):
        images[index] = image_to_tensor(cell.image)
        labels[index] = CLASSES.index(cell.truth["class"])
        if (index + 1) % 2000 == 0 or index + 1 == total:
            log(f"phantoms {index + 1}/{total} ({time.perf_counter() - started:.0f} s)")
    return images, labels


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random element of the square's symmetry group per image (flips and a transpose)."""
    flips = torch.rand(3, images.shape[0], generator=generator) < 0.5
    images = torch.where(flips[0].view(-1, 1, 1, 1), images.flip(3), images)
    images = torch.where(flips[1].view(-1, 1, 1, 1), images.flip(2), images)
    return torch.where(flips[2].view(-1, 1, 1, 1), images.transpose(2, 3), images)


# --- training -------------------------------------------------------------------------------


def _one_cycle(optimizer: torch.optim.Optimizer, lr: float, steps: int) -> Any:
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(steps, 1))


def _train_extractor(
    images: torch.Tensor, labels: torch.Tensor, epochs: int, seed: int, log: Log
) -> tuple[FeatureExtractor, dict[str, float]]:
    """The CNN, trained end to end through a temporary linear head that is then dropped."""
    extractor = FeatureExtractor().to(memory_format=torch.channels_last)  # faster CPU convs
    head = nn.Linear(FEATURE_DIM, len(CLASSES))
    parameters = [*extractor.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=_EXTRACTOR_LR, weight_decay=_WEIGHT_DECAY)
    steps_per_epoch = math.ceil(len(labels) / BATCH_SIZE)
    schedule = _one_cycle(optimizer, _EXTRACTOR_LR, epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    stats = {"loss": math.nan, "accuracy": math.nan}
    for epoch in range(1, epochs + 1):
        extractor.train()
        started, total_loss, correct = time.perf_counter(), 0.0, 0
        for batch in torch.randperm(len(labels), generator=generator).split(BATCH_SIZE):
            inputs = _augment(images[batch], generator).contiguous(
                memory_format=torch.channels_last
            )
            logits = head(extractor(inputs))
            loss = functional.cross_entropy(logits, labels[batch], label_smoothing=_LABEL_SMOOTHING)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(batch)
            correct += int((logits.argmax(dim=1) == labels[batch]).sum())
        stats = {"loss": total_loss / len(labels), "accuracy": correct / len(labels)}
        log(
            f"extractor epoch {epoch}/{epochs}: loss {stats['loss']:.4f} "
            f"accuracy {stats['accuracy']:.4f} ({time.perf_counter() - started:.0f} s)"
        )
    extractor = extractor.to(memory_format=torch.contiguous_format).eval()
    return extractor, _rounded(stats)


def _extract(extractor: FeatureExtractor, images: torch.Tensor) -> torch.Tensor:
    """Eval-mode features for every image, in batches."""
    with torch.inference_mode():
        chunks = [extractor(batch) for batch in images.split(INFERENCE_BATCH_SIZE)]
    return torch.cat(chunks).clone()  # an ordinary tensor, usable with autograd later


def _fit_scaler(features: torch.Tensor) -> FeatureScaler:
    """Mean and std of the training features.

    A std is floored at 1% of the median std, so a channel that is (nearly) constant on the
    training set, such as a dead ReLU, cannot blow up when a served image excites it.
    """
    scaler = FeatureScaler()
    std = features.std(dim=0, unbiased=False)
    floor = max(1e-6, 0.01 * float(std.median()))
    scaler.mean.copy_(features.mean(dim=0))
    scaler.std.copy_(std.clamp_min(floor))
    return scaler.eval()


def _train_classifier(
    features: torch.Tensor, labels: torch.Tensor, seed: int, log: Log
) -> tuple[Classifier, dict[str, float]]:
    """The MLP on scaled features; cheap, so it sees many epochs."""
    classifier = Classifier()
    optimizer = torch.optim.AdamW(
        classifier.parameters(), lr=_CLASSIFIER_LR, weight_decay=_WEIGHT_DECAY
    )
    steps_per_epoch = math.ceil(len(labels) / INFERENCE_BATCH_SIZE)
    schedule = _one_cycle(optimizer, _CLASSIFIER_LR, _CLASSIFIER_EPOCHS * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed + 1)
    for _epoch in range(_CLASSIFIER_EPOCHS):
        classifier.train()
        for batch in torch.randperm(len(labels), generator=generator).split(INFERENCE_BATCH_SIZE):
            loss = functional.cross_entropy(classifier(features[batch]), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    classifier.eval()
    with torch.inference_mode():
        logits = classifier(features)
        stats = {
            "loss": float(functional.cross_entropy(logits, labels)),
            "accuracy": float((logits.argmax(dim=1) == labels).float().mean()),
        }
    log(f"classifier: train loss {stats['loss']:.4f} accuracy {stats['accuracy']:.4f}")
    return classifier, _rounded(stats)


def _save(out_dir: Path, modules: dict[str, nn.Module]) -> dict[str, dict[str, Any]]:
    """State dicts only (never pickled modules), so they load with ``weights_only=True``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for role, module in modules.items():
        path = out_dir / WEIGHT_FILES[role]
        torch.save(module.state_dict(), path)
        files[role] = {"filename": path.name, "bytes": path.stat().st_size}
    return files


# --- reporting ------------------------------------------------------------------------------


def _rounded(stats: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 4) for key, value in stats.items()}
