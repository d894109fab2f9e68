"""The PoP model group as the runtime serves it: one small network per batch (workers only).

``postprocess`` gives ``pop_probability``, ``in_view_probability``, the coarse corners
(normalised, TL, TR, BR, BL) and each corner's heatmap peak mass; ``pop.find_screen`` refines
the corners on the full-resolution photo and measures the photo's quality.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from PIL import Image

from inference.products.vhs.pop.network import INPUT_SIZE, N_CORNERS, PopNet, pop_input
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
