"""The picture-of-picture network: is this a photo of a screen, is the screen in view, and
where are its four corners (coarsely)?

Pure torch, about 0.2 M parameters (< 1 MB), trained in minutes on two CPU cores
(``pop.training``).  It sees the photo stretched to ``INPUT_SIZE`` square, in colour (a
screen's cast, moire and bezel are cues; a direct radiograph is grey), scaled but not
standardised per image (a blank frame stays blank), plus two coordinate channels.  The
encoder halves the grid down to 4 x 4, where every cell sees the whole photo; two logits
come off the deepest features (``P(PoP)``, ``P(screen fully in view)``); a decoder with skip
connections gives one heatmap per corner on a ``HEATMAP_SIZE`` grid, read as its expected
position (soft-argmax), as the landmark network does.  The corners are then refined to
sub-pixel accuracy on the full-resolution photo (``pop.corners``): the network's job is only
to say which edges are the screen's.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional

from inference.imaging.grey import to_gray8_or_rgb
from inference.products.vhs.network import expected_position

INPUT_SIZE: int = 128
HEATMAP_SIZE: int = 32
N_CORNERS: int = 4
OUTPUTS: int = 2 + 2 * N_CORNERS + N_CORNERS  # two logits, (x, y) and peak mass per corner

_STAGES = (16, 24, 40, 56, 72)  # at 64, 32, 16, 8 and 4 px
_DECODER = 32


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class PopNet(nn.Module):
    """``[B, 5, S, S]`` (RGB + x, y) -> ``[B, OUTPUTS]``: PoP logit, in-view logit, four
    corners' normalised (x, y), and each corner heatmap's largest 3 x 3 mass (how sure)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _block(5, _STAGES[0], stride=2)
        self.down = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), _block(a, b), _block(b, b))
            for a, b in itertools.pairwise(_STAGES)
        )
        self.lateral = nn.ModuleList(nn.Conv2d(c, _DECODER, 1) for c in _STAGES[1:4])
        self.top = nn.Conv2d(_STAGES[-1], _DECODER, 1)
        self.smooth = nn.ModuleList(_block(_DECODER, _DECODER) for _ in _STAGES[1:4])
        self.heatmaps = nn.Conv2d(_DECODER, N_CORNERS, 1)
        grid = INPUT_SIZE // 2 // 2 ** (len(_STAGES) - 1)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(_STAGES[-1] * grid * grid + 6, 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, 2),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stem(images)
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
        logits = self.heatmaps(merged)
        probabilities = logits.flatten(2).softmax(dim=2).view(logits.shape)
        corners = expected_position(probabilities)  # [B, 4, 2]
        peaks = functional.avg_pool2d(probabilities, 3, stride=1, padding=1).flatten(2)
        peak = peaks.amax(dim=2) * 9.0  # mass within the best 3 x 3 cells
        # Colour statistics of the whole photo: mean and max chroma, mean luminance.
        rgb = images[:, :3]
        chroma = rgb.amax(dim=1) - rgb.amin(dim=1)
        stats = torch.stack(
            [
                chroma.mean(dim=(1, 2)),
                chroma.flatten(1).quantile(0.95, dim=1),
                rgb.mean(dim=(1, 2, 3)),
                rgb.std(dim=(1, 2, 3)),
                peak.mean(dim=1),
                peak.amin(dim=1),
            ],
            dim=1,
        )
        head = self.head(torch.cat([deepest.flatten(1), stats], dim=1))
        return torch.cat([head, corners.flatten(1), peak], dim=1)


def gray_or_rgb(image: Image.Image) -> Image.Image:
    """An RGB or L image of any upload: 16-bit grey windowed to 8 bits, alpha on white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return to_gray8_or_rgb(image)


def pop_input(image: Image.Image) -> torch.Tensor:
    """Any image -> ``[5, INPUT_SIZE, INPUT_SIZE]``: RGB scaled to about [-2, 2], then x, y."""
    # Resized first, converted after: no full-size RGB copy of a grey photo.
    small = gray_or_rgb(image).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    small = small.convert("RGB")
    pixels = (np.asarray(small, np.float32) / 255.0 - 0.5) / 0.25
    ramp = np.linspace(-1.0, 1.0, INPUT_SIZE, dtype=np.float32)
    ys, xs = np.meshgrid(ramp, ramp, indexing="ij")
    return torch.from_numpy(np.concatenate([pixels.transpose(2, 0, 1), xs[None], ys[None]]))


# --- the corner network: a second stage on crops around each coarse corner ----------------

_CORNER_STAGES = (16, 24, 32, 48)  # at 32, 16, 8 and 4 px of a 64 px crop
_CORNER_DECODER = 24


class CornerNet(nn.Module):
    """``[B, 5, 64, 64]`` (a corner's crop, RGB standardised, + x, y; ``pop.crops``) ->
    ``[B, 2]``: where in the crop the screen's image-area corner lies (normalised, its
    heatmap's expected position on a 32 x 32 grid).  Every crop is flipped to look like a
    top-left corner, so one network serves all four."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _block(5, _CORNER_STAGES[0], stride=2)
        self.down = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), _block(a, b), _block(b, b))
            for a, b in itertools.pairwise(_CORNER_STAGES)
        )
        self.lateral = nn.ModuleList(nn.Conv2d(c, _CORNER_DECODER, 1) for c in _CORNER_STAGES[:-1])
        self.top = nn.Conv2d(_CORNER_STAGES[-1], _CORNER_DECODER, 1)
        self.smooth = nn.ModuleList(_block(_CORNER_DECODER, _CORNER_DECODER) for _ in range(3))
        self.heatmap = nn.Conv2d(_CORNER_DECODER, 1, 1)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        x = self.stem(crops)
        skips = [x]
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        merged = self.top(skips.pop())
        for lateral, smooth, skip in zip(
            reversed(self.lateral), reversed(self.smooth), reversed(skips), strict=True
        ):
            merged = functional.interpolate(merged, scale_factor=2.0, mode="nearest")
            merged = smooth(merged + lateral(skip))
        logits = self.heatmap(merged)
        probabilities = logits.flatten(2).softmax(dim=2).view(logits.shape)
        return expected_position(probabilities)[:, 0]


def corner_input(crops: np.ndarray) -> torch.Tensor:
    """``[N, S, S, 3]`` uint8 crops -> ``[N, 5, S, S]``: each crop's RGB standardised on its
    own (exposure, cast and glare vary from photo to photo), then x, y."""
    pixels = crops.astype(np.float32) / 255.0
    mean = pixels.mean(axis=(1, 2, 3), keepdims=True)
    std = pixels.std(axis=(1, 2, 3), keepdims=True)
    pixels = (pixels - mean) / np.maximum(std, 0.02)
    size = crops.shape[1]
    ramp = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    ys, xs = np.meshgrid(ramp, ramp, indexing="ij")
    coordinates = np.broadcast_to(np.stack([xs, ys]), (len(crops), 2, size, size))
    return torch.from_numpy(np.concatenate([pixels.transpose(0, 3, 1, 2), coordinates], axis=1))
