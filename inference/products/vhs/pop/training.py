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
on the four corners' normalised positions where the screen is in view.  Deterministic
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
from inference.products.vhs.pop.network import INPUT_SIZE, N_CORNERS, PopNet, pop_input
from inference.products.vhs.training import _as_stored
from inference.runtime.reproducible import reproducible, train_dataset_seed

WEIGHT_FILES: dict[str, str] = {"pop_detector": "pop_detector.pt"}

DEFAULT_N_POP = 2400
DEFAULT_N_DIRECT = 1200
DEFAULT_N_NEGATIVE = 600
DEFAULT_EPOCHS = 16
OUT_OF_VIEW_SHARE = 0.1
TRAIN_MAX_SIDE = 256
BATCH_SIZE = 32
_LR = 2e-3
_CLASS_WEIGHT = 0.2

Log = Callable[[str], None]


def train_pop_models(
    out_dir: Path,
    seed: int = 0,
    log: Log = print,
    n_pop: int = DEFAULT_N_POP,
    n_direct: int = DEFAULT_N_DIRECT,
    n_negative: int = DEFAULT_N_NEGATIVE,
    epochs: int = DEFAULT_EPOCHS,
) -> dict[str, Any]:
    """Train the PoP network, save its state dict in ``out_dir``; a summary."""
    started = time.perf_counter()
    dataset_seed = train_dataset_seed(seed)
    with reproducible(seed):
        inputs, targets = _tensors(n_pop, n_direct, n_negative, dataset_seed, log)
        model, stats = _train(inputs, targets, epochs, seed, log)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / WEIGHT_FILES["pop_detector"]
    torch.save(model.state_dict(), path)
    seconds = time.perf_counter() - started
    log(f"PoP network trained in {seconds:.0f} s; weights in {path}")
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
        "models": {"pop_detector": stats},
        "seconds": round(seconds, 1),
        "files": {"pop_detector": {"filename": path.name, "bytes": path.stat().st_size}},
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


#: What ``train_reference_models vhs --pop`` calls (the shape every training module has).
train_reference_models = train_pop_models
