"""The chest X-ray findings network as the runtime serves it (workers only).

One forward pass per batch gives every study's 11 probabilities and 11 class activation
maps; the maps travel with the scores, so the heatmap costs no second pass.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from inference.products.cxr.labels import FINDINGS
from inference.products.cxr.network import INPUT_SIZE, MAP_SIZE, FindingsNet, image_to_tensor
from inference.runtime.predictor import Predictor


class FindingsPredictor(Predictor):
    roles: ClassVar[tuple[str, ...]] = ("findings",)

    def load(self, weights: dict[str, Any]) -> None:
        self.net = self.build(FindingsNet(), weights["findings"])

    def preprocess(self, item: dict[str, Any]) -> torch.Tensor:
        return image_to_tensor(item["pixels"])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """``[B, 11 + 11 * 16 * 16]``: probabilities, then the score maps."""
        logits, maps = self.net(batch)
        return torch.cat([torch.sigmoid(logits), maps.flatten(1)], dim=1)

    def postprocess(self, output: torch.Tensor, item: dict[str, Any]) -> dict[str, Any]:
        count = len(FINDINGS)
        return {
            "probabilities": [float(p) for p in output[:count]],
            "maps": output[count:].view(count, MAP_SIZE, MAP_SIZE),
        }

    def warmup_item(self) -> dict[str, Any]:
        return {"pixels": np.full((INPUT_SIZE, INPUT_SIZE), 0.5, dtype=np.float32)}
