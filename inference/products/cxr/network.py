"""The chest X-ray reference network: a multi-label CNN over the 11 findings, with CAM.

Pure torch.  ``FindingsNet`` maps a ``[B, 1, S, S]`` standardised radiograph to 11 logits,
one per finding, through a fully convolutional body, a 1x1 convolution that gives every
finding its own score map, and a pooled score per map.  The score maps *are* the class
activation maps (CAM, Zhou et al. 2016): a finding's heatmap is its map, computed in the same
forward pass, under ``torch.inference_mode`` and batched like any other output — no
gradients, unlike Grad-CAM, so a worker batches heatmaps as cheaply as scores.

Pooling is log-sum-exp (between average and max pooling): a small lesion (a nodule, a
cavity) can dominate its score, where a global average would dilute it, and the map stays
smooth enough to localise.  ``image_to_tensor`` is the one preprocessing step, shared by
training and serving.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from inference.products.cxr.labels import FINDINGS

INPUT_SIZE: int = 256
#: The score maps' resolution: INPUT_SIZE / 2**4.
MAP_SIZE: int = 16
_CHANNELS = (16, 32, 48, 64, 96)
#: Sharpness of the log-sum-exp pooling (r -> 0: average, r -> inf: max).
_POOL_SHARPNESS = 4.0


def _conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class FindingsNet(nn.Module):
    """``[B, 1, 256, 256]`` -> ``(logits [B, 11], score maps [B, 11, 16, 16])``."""

    def __init__(self) -> None:
        super().__init__()
        # A strided stem (256 -> 128) and a strided convolution (128 -> 64) keep the
        # high-resolution cost small on a CPU; then two stages halve the grid (64 -> 32 -> 16)
        # with two convolutions each, and a last stage refines the 16x16 grid.
        layers: list[nn.Module] = [
            nn.Conv2d(1, _CHANNELS[0], 5, stride=2, padding=2, bias=False),
            nn.BatchNorm2d(_CHANNELS[0]),
            nn.ReLU(inplace=True),
            _conv_block(_CHANNELS[0], _CHANNELS[1], stride=2),
        ]
        for index, (c_in, c_out) in enumerate(itertools.pairwise(_CHANNELS[1:])):
            if index < 2:
                layers.append(nn.MaxPool2d(2))
            layers += [_conv_block(c_in, c_out), _conv_block(c_out, c_out)]
        self.body = nn.Sequential(*layers)
        self.scores = nn.Conv2d(_CHANNELS[-1], len(FINDINGS), 1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.scores(self.body(images))
        flat = maps.flatten(2)
        pooled = (
            torch.logsumexp(_POOL_SHARPNESS * flat, dim=2) - np.log(flat.shape[2])
        ) / _POOL_SHARPNESS
        return pooled, maps


def image_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """A display image (float 0..1, bright = dense, any size) -> ``[1, 256, 256]``.

    Resized without keeping the aspect ratio (chest films are near square), then
    standardised per image, so exposure and windowing differences matter less.
    """
    tensor = torch.as_tensor(np.asarray(pixels, dtype=np.float32))[None, None]
    resized = functional.interpolate(
        tensor, size=(INPUT_SIZE, INPUT_SIZE), mode="area" if tensor.shape[-1] > 256 else "bilinear"
    )[0]
    return (resized - resized.mean()) / resized.std().clamp_min(1e-3)


def heatmap(maps: torch.Tensor, present: list[int]) -> np.ndarray:
    """The present findings' maps combined into one 0..1 heatmap ``[16, 16]``."""
    if not present:
        return np.zeros((MAP_SIZE, MAP_SIZE), dtype=np.float32)
    chosen = maps[present]
    chosen = chosen - chosen.flatten(1).min(dim=1).values[:, None, None]
    chosen = chosen / chosen.flatten(1).max(dim=1).values.clamp_min(1e-6)[:, None, None]
    return chosen.max(dim=0).values.numpy().astype(np.float32)
