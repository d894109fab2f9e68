"""Train the PoP network on picture-of-picture phantoms (``manage.py train_reference_models
vhs --pop``; never in CI).

Data, all drawn small (the network sees 128 pixels): ``n_pop`` photos of screens from the
``train`` scene family (one in ten with the screen partly out of view: PoP, but no corners),
against ``n_direct`` direct radiographs (tight crops included; half stored as clients store
them: RGB, faintly tinted, JPEG) and ``n_negative`` non-radiographs (colour and grey photos,
documents, textures, blank frames, noise), which are not photos of a screen either.  The
direct radiographs are the very dogs the PoP photos show (same dataset seed), so the network
must learn the photo, not the dog.

Loss: binary cross-entropy on PoP and, for PoP photos, on "screen fully in view"; smooth L1
on the four corners' normalised positions where the screen is in view.

Then the corner network (``network.CornerNet``): the first ``n_corner_photos`` of the same
training photos drawn at ``CORNER_MAX_SIDE`` pixels, two crops per corner (``pop.crops``),
each centred off the true corner by a Gaussian offset of ``CORNER_JITTER`` of the diagonal
(what the PoP network's coarse corners are off by), the target the true corner's position in
the crop; smooth L1.  Deterministic
(seeded generators, deterministic algorithms, two threads); a few minutes on two CPU cores.
The held-out ``heldout`` family is never drawn here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from inference.phantoms.pop import draw_pop_dataset
from inference.phantoms.vhs import draw_dataset, draw_negatives
from inference.products.vhs.pop.crops import corner_crops, half_side, to_crop
from inference.products.vhs.pop.network import (
    INPUT_SIZE,
    N_CORNERS,
    CornerNet,
    PopNet,
    corner_input,
    pop_input,
)
from inference.products.vhs.training import _as_stored
from inference.runtime.reproducible import reproducible, train_dataset_seed

WEIGHT_FILES: dict[str, str] = {
    "pop_detector": "pop_detector.pt",
    "pop_corners": "pop_corners.pt",
}

DEFAULT_N_POP = 2400
DEFAULT_N_DIRECT = 1200
DEFAULT_N_NEGATIVE = 600
DEFAULT_EPOCHS = 16
OUT_OF_VIEW_SHARE = 0.1
TRAIN_MAX_SIDE = 256
BATCH_SIZE = 32
_LR = 2e-3
_CLASS_WEIGHT = 0.2

DEFAULT_N_CORNER_PHOTOS = 1200
CORNER_EPOCHS = 10
CORNER_MAX_SIDE = 448
CORNER_JITTERS = 2  # crops per corner, each centred off the truth as a coarse corner is
CORNER_JITTER = 0.02  # sigma of that offset, of the photo's diagonal
CORNER_BATCH = 64

Log = Callable[[str], None]


def train_pop_models(
    out_dir: Path,
    seed: int = 0,
    log: Log = print,
    n_pop: int = DEFAULT_N_POP,
    n_direct: int = DEFAULT_N_DIRECT,
    n_negative: int = DEFAULT_N_NEGATIVE,
    epochs: int = DEFAULT_EPOCHS,
    n_corner_photos: int = DEFAULT_N_CORNER_PHOTOS,
    corner_epochs: int = CORNER_EPOCHS,
) -> dict[str, Any]:
    """Train the PoP network and the corner network, save their state dicts in
    ``out_dir``; a summary."""
    started = time.perf_counter()
    dataset_seed = train_dataset_seed(seed)
    with reproducible(seed):
        inputs, targets = _tensors(n_pop, n_direct, n_negative, dataset_seed, log)
        model, stats = _train(inputs, targets, epochs, seed, log)
        del inputs, targets
        crops, positions = _corner_tensors(n_corner_photos, dataset_seed, log)
        corner_model, corner_stats = _train_corners(crops, positions, corner_epochs, seed, log)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / WEIGHT_FILES["pop_detector"]
    torch.save(model.state_dict(), path)
    corner_path = out_dir / WEIGHT_FILES["pop_corners"]
    torch.save(corner_model.state_dict(), corner_path)
    seconds = time.perf_counter() - started
    log(f"PoP networks trained in {seconds:.0f} s; weights in {path}, {corner_path}")
    return {
        "seed": seed,
        "dataset_seed": dataset_seed,
        "family": "train",
        "n_pop": n_pop,
        "n_direct": n_direct,
        "n_negative": n_negative,
        "out_of_view_share": OUT_OF_VIEW_SHARE,
        "epochs": epochs,
        "input_size": INPUT_SIZE,
        "n_corner_photos": n_corner_photos,
        "corner_epochs": corner_epochs,
        "corner_photo_max_side": CORNER_MAX_SIDE,
        "models": {"pop_detector": stats, "pop_corners": corner_stats},
        "seconds": round(seconds, 1),
        "files": {
            role: {"filename": p.name, "bytes": p.stat().st_size}
            for role, p in (("pop_detector", path), ("pop_corners", corner_path))
        },
    }


def _tensors(
    n_pop: int, n_direct: int, n_negative: int, dataset_seed: int, log: Log
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``[N, 5, S, S]`` and targets ``[N, 2 + 8]``: PoP, in view, corners (normalised;
    NaN where not applicable)."""
    inputs, targets = [], []
    started = time.perf_counter()
    for index, phantom in enumerate(
        draw_pop_dataset(n_pop, dataset_seed, "train", OUT_OF_VIEW_SHARE, TRAIN_MAX_SIDE)
    ):
        width, height = phantom.image.size
        in_view = phantom.truth["screen_in_view"]
        corners = (np.array(phantom.truth["corners"]) / [width, height]).ravel()
        row = [1.0, float(in_view), *(corners if in_view else [math.nan] * 2 * N_CORNERS)]
        inputs.append(pop_input(phantom.image))
        targets.append(row)
        if (index + 1) % 500 == 0:
            log(f"PoP phantoms {index + 1}/{n_pop} ({time.perf_counter() - started:.0f} s)")
    rng = np.random.default_rng([dataset_seed, 19])
    absent = [0.0, math.nan, *[math.nan] * 2 * N_CORNERS]
    for phantom in draw_dataset(n_direct, dataset_seed, max_side=TRAIN_MAX_SIDE + 64):
        inputs.append(pop_input(_as_stored(phantom.image, rng)))
        targets.append(absent)
    for image, _kind in draw_negatives(n_negative, dataset_seed, TRAIN_MAX_SIDE + 64):
        inputs.append(pop_input(image))
        targets.append(absent)
    log(f"{len(inputs)} training images ({time.perf_counter() - started:.0f} s)")
    return torch.stack(inputs), torch.tensor(targets, dtype=torch.float32)


def pop_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE on PoP, BCE on in-view (PoP photos), smooth L1 on corners (screen in view)."""
    loss = _CLASS_WEIGHT * functional.binary_cross_entropy_with_logits(output[:, 0], target[:, 0])
    is_pop = target[:, 0] > 0.5
    if is_pop.any():
        loss = loss + _CLASS_WEIGHT * functional.binary_cross_entropy_with_logits(
            output[is_pop, 1], target[is_pop, 1]
        )
    located = is_pop & (target[:, 1] > 0.5)
    if located.any():
        predicted = output[located, 2 : 2 + 2 * N_CORNERS]
        truth = target[located, 2:]
        loss = loss + functional.smooth_l1_loss(predicted, truth, beta=0.01) * 2
    return loss


def _train(
    inputs: torch.Tensor, targets: torch.Tensor, epochs: int, seed: int, log: Log
) -> tuple[PopNet, dict[str, float]]:
    torch.manual_seed(seed + 31)
    model = PopNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=_LR, weight_decay=1e-4)
    steps = epochs * math.ceil(len(inputs) / BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=_LR, total_steps=max(steps, 1))
    generator = torch.Generator().manual_seed(seed + 31)
    loss_value = math.nan
    for epoch in range(1, epochs + 1):
        model.train()
        started, total = time.perf_counter(), 0.0
        for batch in torch.randperm(len(inputs), generator=generator).split(BATCH_SIZE):
            batch_inputs = inputs[batch].clone()
            # Exposure jitter on the colour channels (not the coordinate channels).
            gain = 1.0 + 0.3 * (torch.rand(len(batch), 1, 1, 1, generator=generator) - 0.5)
            batch_inputs[:, :3] = batch_inputs[:, :3] * gain
            loss = pop_loss(model(batch_inputs), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        loss_value = total / len(inputs)
        seconds = time.perf_counter() - started
        log(f"PoP epoch {epoch}/{epochs}: loss {loss_value:.5f} ({seconds:.0f} s)")
    model.eval()
    with torch.inference_mode():
        outputs = torch.cat([model(chunk) for chunk in inputs.split(256)])
    accuracy = float(((outputs[:, 0] > 0) == (targets[:, 0] > 0.5)).float().mean())
    log(f"PoP training accuracy {accuracy:.4f}")
    return model, {"loss": round(loss_value, 6), "accuracy": round(accuracy, 4), "n": len(inputs)}


def _corner_tensors(
    n_photos: int, dataset_seed: int, log: Log
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops ``[N, S, S, 3]`` uint8 around the corners of ``n_photos`` training photos (the
    detector's first photos, drawn larger), each centred off the truth by a random offset as
    a coarse corner is, and the truth's position in each crop ``[N, 2]``."""
    rng = np.random.default_rng([dataset_seed, 23])
    crops, positions = [], []
    started = time.perf_counter()
    for index, phantom in enumerate(
        draw_pop_dataset(n_photos, dataset_seed, "train", OUT_OF_VIEW_SHARE, CORNER_MAX_SIDE)
    ):
        if not phantom.truth["screen_in_view"]:
            continue
        width, height = phantom.image.size
        rgb = np.asarray(phantom.image.convert("RGB"))
        truth = np.array(phantom.truth["corners"], np.float64)
        half = half_side(width, height)
        diagonal = math.hypot(width, height)
        for _ in range(CORNER_JITTERS):
            shift = np.clip(
                rng.normal(0.0, CORNER_JITTER * diagonal, (4, 2)), -0.8 * half, 0.8 * half
            )
            centres = truth + shift
            crops.append(corner_crops(rgb, centres, half))
            positions.append(to_crop(truth, centres, half))
        if (index + 1) % 500 == 0:
            log(f"corner photos {index + 1}/{n_photos} ({time.perf_counter() - started:.0f} s)")
    images = torch.from_numpy(np.concatenate(crops))
    targets = torch.from_numpy(np.concatenate(positions).astype(np.float32))
    log(f"{len(images)} corner crops ({time.perf_counter() - started:.0f} s)")
    return images, targets


def _train_corners(
    crops: torch.Tensor, positions: torch.Tensor, epochs: int, seed: int, log: Log
) -> tuple[CornerNet, dict[str, float]]:
    torch.manual_seed(seed + 37)
    model = CornerNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=_LR, weight_decay=1e-4)
    steps = epochs * math.ceil(len(crops) / CORNER_BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=_LR, total_steps=max(steps, 1))
    generator = torch.Generator().manual_seed(seed + 37)
    loss_value = math.nan
    for epoch in range(1, epochs + 1):
        model.train()
        started, total = time.perf_counter(), 0.0
        for batch in torch.randperm(len(crops), generator=generator).split(CORNER_BATCH):
            inputs = corner_input(crops[batch].numpy())
            loss = functional.smooth_l1_loss(model(inputs), positions[batch], beta=0.01)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        loss_value = total / len(crops)
        seconds = time.perf_counter() - started
        log(f"corner epoch {epoch}/{epochs}: loss {loss_value:.5f} ({seconds:.0f} s)")
    model.eval()
    with torch.inference_mode():
        predicted = torch.cat([model(corner_input(chunk.numpy())) for chunk in crops.split(512)])
    error = float((predicted - positions).norm(dim=1).median())
    log(f"corner training error, median: {error:.4f} of a crop")
    return model, {"loss": round(loss_value, 6), "median_error": round(error, 5), "n": len(crops)}


#: What ``train_reference_models vhs --pop`` calls (the shape every training module has).
train_reference_models = train_pop_models
