"""The VHS product's two model groups, as the runtime serves them (workers only).

* ``RadiographPredictor``: is this a radiograph at all?  One small classifier.
* ``LandmarkEnsemblePredictor``: the 5-fold ensemble of landmark networks, one forward pass
  of all five members per batch; its members' disagreement is the API's ``spread``.

Each group is loaded, verified, batched and reported on its own; ``pipeline.measure``
composes them for one image.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from PIL import Image

from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.network import (
    INPUT_SIZE,
    N_FOLDS,
    OUTPUTS_PER_LANDMARK,
    LandmarkNet,
    RadiographClassifier,
    classifier_input,
    ensemble_landmarks,
    image_to_tensor,
)
from inference.runtime.predictor import Predictor

FOLD_ROLES = tuple(f"landmarks_fold{i}" for i in range(N_FOLDS))


def _warmup_image() -> Image.Image:
    return Image.new("L", (INPUT_SIZE, INPUT_SIZE), 40)


class RadiographPredictor(Predictor):
    roles: ClassVar[tuple[str, ...]] = ("radiograph_classifier",)

    def load(self, weights: dict[str, Any]) -> None:
        self.classifier = self.build(RadiographClassifier(), weights["radiograph_classifier"])

    def preprocess(self, item: dict[str, Any]) -> torch.Tensor:
        return classifier_input(item["image"])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """``[B, 1]``: P(radiograph)."""
        return torch.sigmoid(self.classifier(batch)).reshape(-1, 1)

    def postprocess(self, output: torch.Tensor, item: dict[str, Any]) -> dict[str, Any]:
        return {"probability": float(output[0])}

    def warmup_item(self) -> dict[str, Any]:
        return {"image": _warmup_image()}


class LandmarkEnsemblePredictor(Predictor):
    roles: ClassVar[tuple[str, ...]] = FOLD_ROLES

    def load(self, weights: dict[str, Any]) -> None:
        self.members = [self.build(LandmarkNet(), weights[role]) for role in FOLD_ROLES]

    def preprocess(self, item: dict[str, Any]) -> torch.Tensor:
        return image_to_tensor(item["image"])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """``[B, 5 * 21]``: each member's 7 (x, y, P(visible))."""
        return ensemble_landmarks(self.members, batch).flatten(1)

    def postprocess(self, output: torch.Tensor, item: dict[str, Any]) -> dict[str, Any]:
        rows = output.view(len(self.members), len(LANDMARKS), OUTPUTS_PER_LANDMARK)
        return {"member_rows": rows.tolist()}

    def warmup_item(self) -> dict[str, Any]:
        return {"image": _warmup_image()}
