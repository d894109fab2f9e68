"""The VHS product as the runtime serves it: a radiograph classifier and a 5-fold ensemble.

One forward pass per batch runs the classifier and all five landmark networks; the
postprocessing (ensemble mean, spread, VHS/VLAS, result code, rendering) is pure Python from
``analysis``, ``geometry`` and ``render``.  Runs only on workers.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any, ClassVar

import torch
from PIL import Image

from inference.products.vhs.analysis import analyse_outputs
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.network import (
    INPUT_SIZE,
    OUTPUTS_PER_LANDMARK,
    LandmarkNet,
    RadiographClassifier,
    classifier_input,
    ensemble_landmarks,
    image_to_tensor,
)
from inference.products.vhs.render import render
from inference.products.vhs.training import N_FOLDS
from inference.runtime.predictor import Predictor

FOLD_ROLES = tuple(f"landmarks_fold{i}" for i in range(N_FOLDS))


class VhsPredictor(Predictor):
    roles: ClassVar[tuple[str, ...]] = (*FOLD_ROLES, "radiograph_classifier")

    def load(self, weights: dict[str, Any]) -> None:
        self.members = [self.build(LandmarkNet(), weights[role]) for role in FOLD_ROLES]
        self.classifier = self.build(RadiographClassifier(), weights["radiograph_classifier"])

    def preprocess(self, item: dict[str, Any]) -> torch.Tensor:
        """The landmark networks' and the classifier's inputs, stacked along the channels."""
        image = self.decode_image(item)
        item["_size"] = image.size  # the postprocessing measures in this image's pixels
        return torch.cat([image_to_tensor(image), classifier_input(image)], dim=0)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """``[B, 1 + 5 * 21]``: P(radiograph), then each member's 7 (x, y, P(visible))."""
        landmark_input, classifier_in = batch[:, :1], batch[:, 1:]
        probability = torch.sigmoid(self.classifier(classifier_in)).reshape(-1, 1)
        members = ensemble_landmarks(self.members, landmark_input)
        return torch.cat([probability, members.flatten(1)], dim=1)

    def postprocess(self, output: torch.Tensor, item: dict[str, Any]) -> dict[str, Any]:
        rows = output[1:].view(len(self.members), len(LANDMARKS), OUTPUTS_PER_LANDMARK)
        width, height = item["_size"]
        frame = analyse_outputs(float(output[0]), rows.tolist(), width, height)
        result: dict[str, Any] = {"frame": dataclasses.asdict(frame)}
        if item.get("render") and not frame.rejected:
            result["rendered_image"] = render(
                self.decode_image(item), frame, item.get("format", "PNG")
            )
        return result

    def warmup_item(self) -> dict[str, Any]:
        import io

        buffer = io.BytesIO()
        Image.new("L", (INPUT_SIZE, INPUT_SIZE), 40).save(buffer, format="PNG")
        return {"image_b64": base64.b64encode(buffer.getvalue()).decode("ascii")}
