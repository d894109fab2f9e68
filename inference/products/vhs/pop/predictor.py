"""The PoP model groups as the runtime serves them (workers only).

``pop`` (``PopPredictor``): ``pop_probability``, ``in_view_probability``, the coarse corners
(normalised, TL, TR, BR, BL) and each corner's heatmap peak mass.  ``pop_corners``
(``CornerPredictor``): the corner network on crops of the full-resolution photo around those
coarse corners.  ``pop.find_screen`` calls both, then fits the screen's edges to sub-pixel
accuracy and measures the photo's quality.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image

from inference.products.vhs.pop.crops import corner_crops, from_crop, half_side
from inference.products.vhs.pop.network import (
    INPUT_SIZE,
    N_CORNERS,
    CornerNet,
    PopNet,
    corner_input,
    gray_or_rgb,
    pop_input,
)
from inference.runtime.predictor import Predictor


class PopPredictor(Predictor):
    roles: ClassVar[tuple[str, ...]] = ("pop_detector",)

    def load(self, weights: dict[str, Any]) -> None:
        self.network = self.build(PopNet(), weights["pop_detector"])

    def preprocess(self, item: dict[str, Any]) -> torch.Tensor:
        return pop_input(item["image"])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        output = self.network(batch)
        return torch.cat([torch.sigmoid(output[:, :2]), output[:, 2:]], dim=1)

    def postprocess(self, output: torch.Tensor, item: dict[str, Any]) -> dict[str, Any]:
        values = output.tolist()
        corners = values[2 : 2 + 2 * N_CORNERS]
        return {
            "pop_probability": values[0],
            "in_view_probability": values[1],
            "corners": [(corners[2 * i], corners[2 * i + 1]) for i in range(N_CORNERS)],
            "peaks": values[2 + 2 * N_CORNERS :],
        }

    def warmup_item(self) -> dict[str, Any]:
        return {"image": Image.new("RGB", (INPUT_SIZE, INPUT_SIZE), (40, 40, 40))}


class CornerPredictor(Predictor):
    """The corner network on one photo's four corner crops (``pop.crops``): an item is the
    photo and its coarse corners (photo pixels); the result the refined corners."""

    roles: ClassVar[tuple[str, ...]] = ("pop_corners",)

    def load(self, weights: dict[str, Any]) -> None:
        self.network = self.build(CornerNet(), weights["pop_corners"])

    def preprocess(self, item: dict[str, Any]) -> torch.Tensor:
        image = gray_or_rgb(item["image"]).convert("RGB")
        centres = np.asarray(item["corners"], np.float64)
        half = half_side(*image.size)
        return corner_input(corner_crops(np.asarray(image), centres, half))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        positions = self.network(batch.flatten(0, 1))
        return positions.view(len(batch), -1)

    def postprocess(self, output: torch.Tensor, item: dict[str, Any]) -> dict[str, Any]:
        half = half_side(*item["image"].size)
        positions = output.numpy().astype(np.float64).reshape(N_CORNERS, 2)
        corners = from_crop(positions, np.asarray(item["corners"], np.float64), half)
        return {"corners": [(float(x), float(y)) for x, y in corners]}

    def warmup_item(self) -> dict[str, Any]:
        size = 4 * INPUT_SIZE
        corners = [(size * 0.2, size * 0.2), (size * 0.8, size * 0.2)]
        corners += [(size * 0.8, size * 0.8), (size * 0.2, size * 0.8)]
        return {"image": Image.new("RGB", (size, size), (40, 40, 40)), "corners": corners}
