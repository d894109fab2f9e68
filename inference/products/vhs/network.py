"""The VHS reference networks: a landmark network (five of them make the ensemble) and a
radiograph/not-radiograph classifier.

Pure torch (no torchvision), small enough to train on two CPU cores in minutes.

* ``LandmarkNet`` sees the grayscale image stretched to a square ``INPUT_SIZE``: normalised
  coordinates are invariant to that stretch, so its outputs hold for the original aspect
  ratio.  Each image is standardised (zero mean, unit variance) because exposure and contrast
  are nuisance.  It is a small encoder-decoder that outputs one heatmap per landmark on a
  ``HEATMAP_SIZE`` grid and reads the point off as the heatmap's expected position (soft-argmax,
  "integral regression"): sub-cell precise, and far more precise than a fully connected head
  regressing coordinates, which matters because the ensemble's disagreement is the API's
  ``spread``.  A soft-argmax cannot leave the frame, so each landmark also gets a *visibility*
  logit, from the whole image (is the point in the frame?) and from the features under its
  heatmap (is it discernible?): that, not a coordinate outside 0..1, is how a cropped
  vertebra or a hidden atrium is reported.
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
from torch.nn import functional

from inference.imaging.grey import to_gray8, to_gray8_or_rgb
from inference.products.vhs.geometry import LANDMARKS

#: The landmark networks' input side.  192 px, not 128: a vertebra is about a twentieth of
#: the image, so at 128 px a landmark's position is resolved to a sixth of a vertebra at
#: best, and VHS is counted in tenths of one (issue 21).
INPUT_SIZE: int = 192
HEATMAP_SIZE: int = INPUT_SIZE // 4
#: The radiograph classifier's input side: telling a radiograph from a photograph needs no
#: more, and the classifier runs on every image, measured or rejected.
CLASSIFIER_INPUT_SIZE: int = 128
OUTPUTS_PER_LANDMARK: int = 3  # x, y, visibility logit
N_FOLDS: int = 5  # ensemble members, one per training fold
CLASSIFIER_CHANNELS: int = 2  # luminance, chroma

_ENCODER_STAGES = (24, 32, 48, 64, 96)  # at 1/2, 1/4, 1/8, 1/16 and 1/32 of the input
_DECODER_CHANNELS = 48
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


def expected_position(probabilities: torch.Tensor) -> torch.Tensor:
    """``[B, K, H, W]`` probability maps -> ``[B, K, 2]`` expected (x, y), normalised.

    Cell ``i`` of ``n`` covers ``[i/n, (i+1)/n]`` of the image, so its centre is ``(i+0.5)/n``.
    """
    height, width = probabilities.shape[-2:]
    device, dtype = probabilities.device, probabilities.dtype
    xs = (torch.arange(width, dtype=dtype, device=device) + 0.5) / width
    ys = (torch.arange(height, dtype=dtype, device=device) + 0.5) / height
    x = (probabilities.sum(dim=2) * xs).sum(dim=2)
    y = (probabilities.sum(dim=3) * ys).sum(dim=2)
    return torch.stack([x, y], dim=2)


def ensemble_landmarks(members: list[nn.Module], images: torch.Tensor) -> torch.Tensor:
    """``[B, 1, S, S]`` -> ``[B, M, 7, 3]``: each member's (x, y, P(visible)) per landmark.

    The one place the ensemble runs, for the worker and for the evaluation alike.
    """
    outputs = torch.stack([member(images) for member in members], dim=1)
    return torch.cat([outputs[..., :2], torch.sigmoid(outputs[..., 2:])], dim=-1)


class LandmarkNet(nn.Module):
    """``[B, 1, S, S]`` standardised images -> ``[B, 7, 3]``: (x, y) normalised, visibility logit.

    Encoder: a stride-2 stem (192 -> 96), then stages halving the grid down to 6 x 6, where
    every cell sees the whole thorax (needed to tell T4 from T5: one counts vertebrae).
    Decoder: upsampling with skip connections back to the 48 x 48 heatmaps.  Visibility adds a
    whole-image term (the flattened 6 x 6 grid: is the point in the frame?) and a local one
    (the decoder's features pooled under the landmark's own heatmap: is it discernible?).
    About 0.55 M parameters (~2.2 MB).
    """

    def __init__(self) -> None:
        super().__init__()
        stages = _ENCODER_STAGES
        self.stem = _conv_block(3, stages[0], stride=2)
        self.down = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), _conv_block(c_in, c_out), _conv_block(c_out, c_out))
            for c_in, c_out in itertools.pairwise(stages)
        )
        # Skips from the 32, 16 and 8 px stages, merged on the way back up from 4 px.
        self.lateral = nn.ModuleList(
            nn.Conv2d(channels, _DECODER_CHANNELS, 1) for channels in stages[1:4]
        )
        self.top = nn.Conv2d(stages[-1], _DECODER_CHANNELS, 1)
        self.smooth = nn.ModuleList(
            _conv_block(_DECODER_CHANNELS, _DECODER_CHANNELS) for _ in stages[1:4]
        )
        self.heatmaps = nn.Conv2d(_DECODER_CHANNELS, len(LANDMARKS), 1)
        grid = INPUT_SIZE // 2 // 2 ** (len(stages) - 1)
        self.visibility_global = nn.Sequential(
            nn.Flatten(),
            nn.Linear(stages[-1] * grid * grid, 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, len(LANDMARKS)),
        )
        # One weight vector per landmark over the decoder features where its heatmap points.
        self.visibility_local = nn.Parameter(torch.zeros(len(LANDMARKS), _DECODER_CHANNELS))

    def features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heatmaps as probability maps ``[B, 7, H, H]`` (``HEATMAP_SIZE``), and visibility
        logits ``[B, 7]``."""
        coordinates = _coordinates(images.shape[0], images.shape[-1], images)
        x = self.stem(torch.cat([images, coordinates], dim=1))
        skips = []
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        deepest = skips.pop()
        merged = self.top(deepest)
        for lateral, smooth, skip in zip(
            reversed(self.lateral), reversed(self.smooth), reversed(skips), strict=True
        ):
            merged = functional.interpolate(merged, scale_factor=2.0, mode="nearest")
            merged = smooth(merged + lateral(skip))
        heatmaps = self.heatmaps(merged)
        probabilities = heatmaps.flatten(2).softmax(dim=2)  # [B, K, HW]
        # What the decoder sees where each heatmap points: a hidden atrial border looks
        # different there from a sharp one, which a whole-image summary can miss.
        local = torch.einsum("bkn,bcn->bkc", probabilities, merged.flatten(2))
        visibility = self.visibility_global(deepest) + (local * self.visibility_local).sum(dim=2)
        return probabilities.view(heatmaps.shape), visibility

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        probabilities, visibility = self.features(images)
        return torch.cat([expected_position(probabilities), visibility[:, :, None]], dim=2)


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
    gray = to_gray8(image).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(gray, dtype=np.float32) / 255.0


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """Any image -> the landmark network's ``[1, INPUT_SIZE, INPUT_SIZE]`` float32, standardised.

    Stretched to a square without cropping, so every normalised coordinate keeps its meaning.
    """
    gray = _square_gray(image)
    gray = (gray - gray.mean()) / max(float(gray.std()), 1e-3)
    return torch.from_numpy(gray)[None].contiguous()


def classifier_input(image: Image.Image) -> torch.Tensor:
    """Any image -> the classifier's ``[2, S, S]`` (``CLASSIFIER_INPUT_SIZE``): luminance and
    chroma.

    Luminance is scaled to about [-2, 2] but *not* standardised per image: a blank frame must
    stay blank.  Chroma is max - min over R, G, B in [0, 1] (0 for a grey image in any mode).
    """
    # Resized first, converted after: a 40-megapixel RGB copy would cost the worker 120 MB.
    side = CLASSIFIER_INPUT_SIZE
    small_image = to_gray8_or_rgb(image).resize((side, side), Image.Resampling.BILINEAR)
    small = np.asarray(small_image.convert("RGB"), np.float32)
    small /= 255.0
    luminance = (small @ np.array([0.299, 0.587, 0.114], np.float32) - 0.5) / 0.25
    chroma = (small.max(axis=2) - small.min(axis=2)) * 4.0
    return torch.from_numpy(np.stack([luminance, chroma])).contiguous()
