"""Train the chest X-ray reference model on PA chest phantoms (a command; never on a worker).

Real weights live on a hub this platform cannot reach, so the repository ships a network
trained here on ``inference.phantoms.cxr`` studies, whose findings and lesion regions are
known by construction.  Not for clinical use.

* **Data**: ``n_train`` studies from the training dataset seed, drawn small
  (``TRAIN_SIZES``: the network sees 256x256 anyway), each the display pixels a reader
  gives for its stored values (``phantom.pixels``); every ``READBACK_EVERY``-th study is
  written as DICOM in its own encoding and read back through ``inference.imaging.dicom``
  instead, and the two must agree.  Each goes through ``network.image_to_tensor``, the
  serving preprocessing, and is cached as float16.
* **Validation**: the next ``n_validation`` studies of the same dataset seed: disjoint from
  the training studies (other indices) and from every evaluation study (the evaluation
  draws the odd dataset seed).  The per-finding thresholds are chosen there (Youden's J),
  never on the evaluation set.
* **Loss**: binary cross-entropy with logits on the 11 pooled scores, ``pos_weight`` from the
  training prevalence (each finding is in ~9 % of studies), plus (``mask_weight``) a
  localisation term on the score maps of the findings a study has: ``-log`` of the share of
  the map's softmax over its 16x16 cells that lies on the lesion's coarse mask.  The maps
  stay the network's class activation maps (the pooled score is computed from them, one
  forward pass, no gradients at serving), but they learn where a lesion lies from the
  phantom's truth as well as from which studies have it.
* **Augmentation**: a small affine jitter (rotation, scale, translation), never a left-right
  flip (it would move the heart to the right), and a little added noise.

Seeds: training and validation draw dataset ``2 * seed``, evaluation ``2 * seed + 1``
(``inference.runtime.reproducible``).  Deterministic: seeded generators, deterministic
algorithms, two threads; the drawing runs in worker processes, each study from its own seed.

    python -m inference.products.cxr.training --out models/cxr --seed 0
"""

from __future__ import annotations

import argparse
import io
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from inference.products.cxr.evaluation import (
    MASK_SIZE,
    auroc,
    rounded_threshold,
    score_tensors,
    sensitivity_specificity,
)
from inference.products.cxr.labels import FINDINGS
from inference.products.cxr.network import INPUT_SIZE, MAP_SIZE, FindingsNet, image_to_tensor
from inference.runtime.reproducible import reproducible, train_dataset_seed

WEIGHT_FILES: dict[str, str] = {"findings": "findings.pt"}
MODEL_VERSION = "cxr-ref-phantom-1.0"

DEFAULT_N_TRAIN = 3000
DEFAULT_N_VALIDATION = 600
DEFAULT_EPOCHS = 8
#: Training studies' longer sides, in turn: 1.25x to 2x the network's input, so the resize
#: to 256 is an area average as it is for the full-size studies (640-1024 px) the product
#: reads, at a fraction of their drawing cost.
TRAIN_SIZES: tuple[int, ...] = (320, 384, 512)
READBACK_EVERY = 25
BATCH_SIZE = 32
DRAW_WORKERS = 2

_LR = 2e-3
_WEIGHT_DECAY = 1e-4
_MASK_WEIGHT = 0.5
_MAX_ROTATION_DEG = 4.0
_MAX_SCALE = 0.06
_MAX_SHIFT = 0.04
_MAX_NOISE = 0.08

Log = Callable[[str], None]


def train_reference_models(
    out_dir: Path,
    seed: int = 0,
    log: Log = print,
    *,
    n_train: int = DEFAULT_N_TRAIN,
    n_validation: int = DEFAULT_N_VALIDATION,
    epochs: int = DEFAULT_EPOCHS,
    sizes: tuple[int, ...] = TRAIN_SIZES,
    mask_weight: float = _MASK_WEIGHT,
    workers: int = DRAW_WORKERS,
) -> dict[str, Any]:
    """Train ``FindingsNet``, save its state dict in ``out_dir``; a JSON-safe summary.

    The summary carries the thresholds chosen on the validation studies and their AUROC.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if n_train < 1 or n_validation < 2:
        raise ValueError("need at least one training and two validation studies")
    started = time.perf_counter()
    dataset_seed = train_dataset_seed(seed)
    data = _draw_tensors(dataset_seed, 0, n_train + n_validation, sizes, workers, log)
    drawn_s = time.perf_counter() - started
    train = {key: value[:n_train] for key, value in data.items() if key != "readback"}
    validation = {key: value[n_train:] for key, value in data.items() if key != "readback"}
    with reproducible(seed):
        model, history = _train(train, epochs, mask_weight, seed, log)
        probabilities, _ = score_tensors(model, validation["inputs"])
    trained_s = time.perf_counter() - started - drawn_s
    labels = validation["labels"].numpy().astype(int)
    scores = probabilities.numpy()
    thresholds = _thresholds(scores, labels, log)
    files = _save(Path(out_dir), {"findings": model})
    seconds = time.perf_counter() - started
    log(f"trained in {seconds:.0f} s (drawing {drawn_s:.0f} s); weights in {out_dir}")
    return {
        "seed": seed,
        "dataset_seed": dataset_seed,
        "n_train": n_train,
        "train_indices": [0, n_train],
        "n_validation": n_validation,
        "validation_indices": [n_train, n_train + n_validation],
        "draw_sizes": list(sizes),
        "input_size": INPUT_SIZE,
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "mask_weight": mask_weight,
        "parameters": sum(p.numel() for p in model.parameters()),
        "readback": data["readback"],
        "history": history,
        "validation": _validation_report(scores, labels, thresholds),
        "thresholds": thresholds,
        "seconds": round(seconds, 1),
        "draw_seconds": round(drawn_s, 1),
        "train_seconds": round(trained_s, 1),
        "files": files,
    }


def load_reference_models(model_dir: Path) -> dict[str, nn.Module]:
    """``{"findings": FindingsNet}`` in eval mode (state dict, ``weights_only``)."""
    net = FindingsNet()
    path = Path(model_dir) / WEIGHT_FILES["findings"]
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return {"findings": net.eval()}


# --- data -----------------------------------------------------------------------------------


def _draw_one(args: tuple[int, int, bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One study: display pixels, labels ``[11]``, masks ``[11, 32, 32]``, and for a
    read-back study the largest difference between its DICOM read back and ``pixels``."""
    from inference.imaging.dicom import read_image
    from inference.phantoms.cxr import draw_study, mask_array, save_dicom

    study_seed, size, read_back = args
    phantom = draw_study(study_seed, size=size)
    pixels, difference = phantom.pixels, math.nan
    if read_back:
        buffer = io.BytesIO()
        save_dicom(phantom, buffer)
        pixels = read_image(buffer.getvalue(), max_pixels=size * size * 4).pixels
        difference = float(np.abs(pixels - phantom.pixels).max())
    labels = np.array([phantom.truth["labels"][name] for name in FINDINGS], dtype=np.float32)
    masks = np.zeros((len(FINDINGS), MASK_SIZE, MASK_SIZE), dtype=bool)
    for name, lesion in phantom.truth["lesions"].items():
        masks[FINDINGS.index(name)] = mask_array(lesion["mask"])
    return pixels.astype(np.float32), labels, masks, difference


def _drawn(jobs: list[tuple[int, int, bool]], workers: int) -> Iterator[tuple]:
    if workers <= 0 or len(jobs) < 2:
        yield from map(_draw_one, jobs)
        return
    # spawn: the children start clean (no copy of this process's torch thread pools).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield from pool.map(_draw_one, jobs, chunksize=8)


def _draw_tensors(
    dataset_seed: int, first: int, count: int, sizes: tuple[int, ...], workers: int, log: Log
) -> dict[str, Any]:
    """Studies ``first .. first + count - 1`` of ``dataset_seed`` as network inputs; study
    ``i`` is drawn at ``sizes[i % len(sizes)]``."""
    from inference.phantoms.cxr import DATASET_STRIDE

    jobs = [
        (
            dataset_seed * DATASET_STRIDE + index,
            sizes[index % len(sizes)],
            index % READBACK_EVERY == 0,
        )
        for index in range(first, first + count)
    ]
    inputs = torch.empty(count, 1, INPUT_SIZE, INPUT_SIZE, dtype=torch.float16)
    labels = torch.empty(count, len(FINDINGS))
    masks = torch.empty(count, len(FINDINGS), MASK_SIZE, MASK_SIZE, dtype=torch.bool)
    differences = []
    started = time.perf_counter()
    for index, (pixels, label, mask, difference) in enumerate(_drawn(jobs, workers)):
        inputs[index] = image_to_tensor(pixels).to(torch.float16)
        labels[index] = torch.from_numpy(label)
        masks[index] = torch.from_numpy(mask)
        if not math.isnan(difference):
            differences.append(difference)
        if (index + 1) % 500 == 0 or index + 1 == count:
            log(f"phantoms {index + 1}/{count} ({time.perf_counter() - started:.0f} s)")
    worst = max(differences, default=0.0)
    if worst > 1e-6:
        raise RuntimeError(f"DICOM read-back differs from the phantom's pixels by {worst}")
    return {
        "inputs": inputs,
        "labels": labels,
        "masks": masks,
        "readback": {"studies": len(differences), "max_abs_difference": worst},
    }


# --- training -------------------------------------------------------------------------------


def _augment(
    inputs: torch.Tensor, masks: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same small random affine on images ``[B, 1, S, S]`` and map targets ``[B, 11,
    16, 16]``; then noise on the (standardised) images.  Never a left-right flip."""
    count = inputs.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(count, generator=generator) * 2 - 1) * limit

    angle = uniform(math.radians(_MAX_ROTATION_DEG))
    scale = 1.0 + uniform(_MAX_SCALE)
    shift_x, shift_y = uniform(_MAX_SHIFT * 2), uniform(_MAX_SHIFT * 2)  # grid units: 2 = side
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1
    )
    grid = functional.affine_grid(theta, list(inputs.shape), align_corners=False)
    images = functional.grid_sample(inputs, grid, padding_mode="border", align_corners=False)
    grid = functional.affine_grid(theta, list(masks.shape), align_corners=False)
    targets = functional.grid_sample(masks, grid, padding_mode="zeros", align_corners=False)
    targets = (targets >= 0.5).float()
    noise = torch.rand(count, 1, 1, 1, generator=generator) * _MAX_NOISE
    images = images + noise * torch.randn(images.shape, generator=generator)
    return images, targets


def _map_targets(masks: torch.Tensor) -> torch.Tensor:
    """Truth masks ``[N, 11, 32, 32]`` (bool) -> 1.0 where the lesion touches a map cell."""
    return functional.max_pool2d(masks.float(), MASK_SIZE // MAP_SIZE)


def findings_loss(
    logits: torch.Tensor,
    maps: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
    pos_weight: torch.Tensor,
    mask_weight: float,
) -> torch.Tensor:
    """BCE on the pooled scores, plus ``mask_weight`` x a localisation term.

    The localisation term, for each finding a study has, is ``-log`` of the share of its
    map's softmax (over the 16x16 cells) that falls on the cells its lesion touches
    (``targets``: ``[B, 11, 16, 16]``, 0 or 1): it rewards the hottest cells lying on the
    lesion and leaves the map's level, which the pooled score reads, to the BCE.
    """
    loss = functional.binary_cross_entropy_with_logits(logits, labels, pos_weight=pos_weight)
    present = labels > 0.5
    if mask_weight > 0 and present.any():
        chosen = maps[present].flatten(1)
        inside = targets[present].flatten(1) > 0.5
        lesion = inside.any(dim=1)  # a lesion the jitter moved out of the frame counts not
        if lesion.any():
            chosen, inside = chosen[lesion], inside[lesion]
            share = torch.logsumexp(chosen.masked_fill(~inside, -math.inf), dim=1)
            loss = loss + mask_weight * (torch.logsumexp(chosen, dim=1) - share).mean()
    return loss


def _train(
    data: dict[str, torch.Tensor], epochs: int, mask_weight: float, seed: int, log: Log
) -> tuple[FindingsNet, list[dict[str, float]]]:
    torch.manual_seed(seed)
    model = FindingsNet().to(memory_format=torch.channels_last)
    inputs, labels = data["inputs"], data["labels"]
    targets = _map_targets(data["masks"])
    positives = labels.sum(0)
    pos_weight = ((len(labels) - positives) / positives.clamp(min=1.0)).clamp(1.0, 20.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=_LR, weight_decay=_WEIGHT_DECAY)
    steps = epochs * math.ceil(len(inputs) / BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=_LR, total_steps=max(steps, 1), pct_start=0.2
    )
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        started, total = time.perf_counter(), 0.0
        for batch in torch.randperm(len(inputs), generator=generator).split(BATCH_SIZE):
            images, cell_targets = _augment(inputs[batch].float(), targets[batch], generator)
            logits, maps = model(images.contiguous(memory_format=torch.channels_last))
            loss = findings_loss(logits, maps, labels[batch], cell_targets, pos_weight, mask_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        seconds = time.perf_counter() - started
        history.append({"epoch": epoch, "loss": round(total / len(inputs), 5)})
        log(f"epoch {epoch}/{epochs}: loss {total / len(inputs):.4f} ({seconds:.0f} s)")
    return model.to(memory_format=torch.contiguous_format).eval(), history


def _thresholds(scores: np.ndarray, labels: np.ndarray, log: Log) -> dict[str, float]:
    """Youden's J per finding; 0.5 for a finding the validation lacks either class of."""
    thresholds = {}
    for k, name in enumerate(FINDINGS):
        column = labels[:, k]
        if column.all() or not column.any():
            log(f"validation has no {'negatives' if column.all() else 'positives'} for {name}")
            thresholds[name] = 0.5
        else:
            thresholds[name] = rounded_threshold(scores[:, k], column)
    return thresholds


def _validation_report(
    scores: np.ndarray, labels: np.ndarray, thresholds: dict[str, float]
) -> dict[str, Any]:
    per_finding = {}
    for k, name in enumerate(FINDINGS):
        area = auroc(scores[:, k], labels[:, k])
        sensitivity, specificity = sensitivity_specificity(
            scores[:, k], labels[:, k], thresholds[name]
        )
        per_finding[name] = {
            "n_positive": int(labels[:, k].sum()),
            "auroc": None if area is None else round(area, 4),
            "sensitivity": None if sensitivity is None else round(sensitivity, 4),
            "specificity": None if specificity is None else round(specificity, 4),
        }
    areas = [row["auroc"] for row in per_finding.values() if row["auroc"] is not None]
    return {
        "macro_auroc": round(float(np.mean(areas)), 4) if areas else None,
        "per_finding": per_finding,
    }


def _save(out_dir: Path, modules: dict[str, nn.Module]) -> dict[str, dict[str, Any]]:
    """State dicts only (never pickled modules), so they load with ``weights_only=True``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for role, module in modules.items():
        path = out_dir / WEIGHT_FILES[role]
        torch.save(module.state_dict(), path)
        files[role] = {"filename": path.name, "bytes": path.stat().st_size}
    return files


# --- command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train, then write the weights and the manifest into ``--out`` (a ``.../cxr`` folder)."""
    from inference.runtime.manifest import write_manifest
    from inference.runtime.product import DISCLAIMER

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models/cxr"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=DEFAULT_N_TRAIN)
    parser.add_argument("--n-validation", type=int, default=DEFAULT_N_VALIDATION)
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--workers", type=int, default=DRAW_WORKERS)
    args = parser.parse_args(argv)
    if args.out.name != "cxr":
        parser.error("--out must be the product's folder in a model store (…/cxr)")
    summary = train_reference_models(
        args.out,
        args.seed,
        lambda line: print(line, flush=True),
        n_train=args.n_train,
        n_validation=args.n_validation,
        epochs=args.epochs,
        workers=args.workers,
    )
    manifest = write_manifest(
        args.out.parent,
        "cxr",
        MODEL_VERSION,
        dict(WEIGHT_FILES),
        notes={
            "disclaimer": DISCLAIMER,
            "seed": args.seed,
            "training": summary,
            "thresholds": summary["thresholds"],
        },
    )
    print(f"wrote {len(manifest.files)} weight file and the manifest to {args.out}")
    print("thresholds:", summary["thresholds"])
    return summary


if __name__ == "__main__":
    main()
