"""The leukemia reference networks: CNN feature extractor -> feature scaler -> classifier.

Three modules, one weight file each, because that is how the product's contract describes its
models (feature extractor, scaler, classifier) and how real weights would be dropped in.  Pure
torch (no torchvision): the workers need nothing else, and the networks are small enough to
train on a CPU in minutes.  ``image_to_tensor`` is the one preprocessing step, shared by
training and serving so the two can never drift apart.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from PIL import Image
from torch import nn

from inference.imaging.grey import to_gray8_or_rgb
from inference.products.leukemia.labels import CLASSES

# 96 px keeps a nucleolus (2-3 px at 128) visible while a CPU trains in minutes.
INPUT_SIZE: int = 96
FEATURE_DIM: int = 128
NUM_CLASSES: int = len(CLASSES)

# Per-channel normalisation (the usual ImageNet statistics), applied after scaling to [0, 1].
CHANNEL_MEAN = (0.485, 0.456, 0.406)
CHANNEL_STD = (0.229, 0.224, 0.225)

# Output channels of the convolution stages; a stage halves the resolution after the first.
_STAGE_CHANNELS = (16, 32, 64, 96, FEATURE_DIM)
_CLASSIFIER_HIDDEN = 64


def _conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU: the unit every stage is made of."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class FeatureExtractor(nn.Module):
    """A small CNN: ``[B, 3, S, S]`` normalised images -> ``[B, FEATURE_DIM]`` features.

    The stem convolves with stride 2 (96 -> 48), then each stage halves the grid with a max
    pool (48 -> 24 -> 12 -> 6); a global average pool makes the features position-independent,
    since the cell is only roughly centred.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_block(3, _STAGE_CHANNELS[0], stride=2)]
        for index, (c_in, c_out) in enumerate(itertools.pairwise(_STAGE_CHANNELS)):
            if index > 0:
                layers.append(nn.MaxPool2d(2))
            layers.append(_conv_block(c_in, c_out))
        self.body = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pool(self.body(images)).flatten(1)


class FeatureScaler(nn.Module):
    """A standard scaler as a module: ``(f - mean) / std`` with the training set's statistics.

    Kept as its own weight file so a classifier trained elsewhere (scikit-learn style
    scaler + model) maps onto the same three roles.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(FEATURE_DIM))
        self.register_buffer("std", torch.ones(FEATURE_DIM))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std


class Classifier(nn.Module):
    """Scaled features -> class logits ``[B, 4]`` (order of ``CLASSES``); a one-hidden-layer MLP."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(FEATURE_DIM, _CLASSIFIER_HIDDEN),
            nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Linear(_CLASSIFIER_HIDDEN, NUM_CLASSES),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparency is laid over white, the colour of an empty slide."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return to_gray8_or_rgb(image).convert("RGB")  # high-bit-depth grey windowed, not clipped


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """One image, any mode and size -> normalised float32 ``[3, INPUT_SIZE, INPUT_SIZE]``.

    The image is resized to a square without cropping (a non-square image is stretched), so a
    cell near an edge is never cut away.
    """
    rgb = _to_rgb(image).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.array(rgb, dtype=np.float32)).permute(2, 0, 1) / 255.0
    mean = torch.tensor(CHANNEL_MEAN).view(3, 1, 1)
    std = torch.tensor(CHANNEL_STD).view(3, 1, 1)
    return ((pixels - mean) / std).contiguous()
