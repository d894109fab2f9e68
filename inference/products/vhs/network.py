"""The VHS reference networks: a landmark regressor (five of them make the ensemble) and a
radiograph/not-radiograph classifier.

Pure torch (no torchvision), small enough to train on two CPU cores in minutes.

* ``LandmarkRegressor`` sees the grayscale image stretched to a square ``INPUT_SIZE``:
  normalised coordinates are invariant to that stretch, so its outputs hold for the original
  aspect ratio.  Each image is standardised (zero mean, unit variance) because exposure and
  contrast are nuisance.  Two coordinate channels (CoordConv) and a flattened, not pooled,
  feature grid keep *where* things are, which a regressor needs; it may answer outside 0..1
  for a landmark cropped out of the frame, so the head has no squashing non-linearity.
* ``RadiographClassifier`` must reject colour photographs yet accept a radiograph saved as
  an RGB JPEG (grey in RGB).  A grayscale network cannot see colour, and an RGB network could
  latch onto hue; so it gets two channels: the luminance and the *chroma* (max - min over
  R, G, B), which is ~0 for any grey image however it was stored and large for a colour
  photo.  Training includes tinted and JPEG-compressed radiographs so a faint cast is
  tolerated, and grayscale photographs so structure, not colour alone, decides.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from PIL import Image
from torch import nn

from inference.products.vhs.geometry import LANDMARKS

INPUT_SIZE: int = 128
NUM_OUTPUTS: int = 2 * len(LANDMARKS)
CLASSIFIER_CHANNELS: int = 2  # luminance, chroma

_REGRESSOR_STAGES = (24, 32, 48, 64, 96)
_REGRESSOR_HIDDEN = 192
_CLASSIFIER_STAGES = (16, 24, 32, 48)


def _conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _coordinates(batch: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """Two channels holding each pixel's x and y in [-1, 1]."""
    ramp = torch.linspace(-1.0, 1.0, size, dtype=like.dtype, device=like.device)
    ys, xs = torch.meshgrid(ramp, ramp, indexing="ij")
    return torch.stack([xs, ys]).expand(batch, 2, size, size)


class LandmarkRegressor(nn.Module):
    """``[B, 1, S, S]`` standardised images -> ``[B, 14]`` (x0, y0, ..., x6, y6), normalised.

    Stride-2 stem (128 -> 64), then four stages each halving the grid (-> 4 x 4); the
    4 x 4 x 96 grid is flattened into a small MLP.  About 0.5 M parameters (~2 MB).
    """

    def __init__(self) -> None:
        super().__init__()
        stages = _REGRESSOR_STAGES
        layers: list[nn.Module] = [_conv_block(3, stages[0], stride=2)]
        for c_in, c_out in itertools.pairwise(stages):
            layers += [_conv_block(c_in, c_out), nn.MaxPool2d(2)]
        self.body = nn.Sequential(*layers)
        grid = INPUT_SIZE // 2 // 2 ** (len(stages) - 1)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(stages[-1] * grid * grid, _REGRESSOR_HIDDEN),
            nn.ReLU(inplace=True),
            nn.Linear(_REGRESSOR_HIDDEN, NUM_OUTPUTS),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        coordinates = _coordinates(images.shape[0], images.shape[-1], images)
        # The head predicts offsets from the image centre; 0.5 keeps the initial guess central.
        return self.head(self.body(torch.cat([images, coordinates], dim=1))) + 0.5


class RadiographClassifier(nn.Module):
    """``[B, 2, S, S]`` (luminance, chroma) -> ``[B, 1]`` logit of "this is a radiograph".

    The chroma channel also enters as global statistics (mean and max over the image), so
    one strongly coloured region is enough to reject however the convolutions pool it.
    """

    def __init__(self) -> None:
        super().__init__()
        stages = _CLASSIFIER_STAGES
        layers: list[nn.Module] = [_conv_block(CLASSIFIER_CHANNELS, stages[0], stride=2)]
        for c_in, c_out in itertools.pairwise(stages):
            layers += [nn.MaxPool2d(2), _conv_block(c_in, c_out)]
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(stages[-1] + 2, 32), nn.ReLU(inplace=True), nn.Linear(32, 1)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        chroma = images[:, 1].flatten(1)
        colour = torch.stack([chroma.mean(dim=1), chroma.amax(dim=1)], dim=1)
        return self.head(torch.cat([self.body(images), colour], dim=1))


def _square_gray(image: Image.Image) -> np.ndarray:
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    gray = image.convert("L").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(gray, dtype=np.float32) / 255.0


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """Any image -> the regressor's ``[1, INPUT_SIZE, INPUT_SIZE]`` float32, standardised.

    Stretched to a square without cropping, so every normalised coordinate keeps its meaning.
    """
    gray = _square_gray(image)
    gray = (gray - gray.mean()) / max(float(gray.std()), 1e-3)
    return torch.from_numpy(gray)[None].contiguous()


def classifier_input(image: Image.Image) -> torch.Tensor:
    """Any image -> the classifier's ``[2, INPUT_SIZE, INPUT_SIZE]``: luminance and chroma.

    Luminance is scaled to about [-2, 2] but *not* standardised per image: a blank frame must
    stay blank.  Chroma is max - min over R, G, B in [0, 1] (0 for a grey image in any mode).
    """
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    small = np.asarray(rgb.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR), np.float32)
    small /= 255.0
    luminance = (small @ np.array([0.299, 0.587, 0.114], np.float32) - 0.5) / 0.25
    chroma = (small.max(axis=2) - small.min(axis=2)) * 4.0
    return torch.from_numpy(np.stack([luminance, chroma])).contiguous()
