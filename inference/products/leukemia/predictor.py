"""The leukemia classifier as the runtime serves it: CNN features -> scaler -> classifier.

Three weight files, as the product's health document lists them (feature_extractor,
classifier, scaler).  Runs only on workers; views never import this module.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from PIL import Image

from inference.products.leukemia.labels import CLASSES, DESCRIPTIONS, confidence_level
from inference.products.leukemia.network import (
    Classifier,
    FeatureExtractor,
    FeatureScaler,
    image_to_tensor,
)
from inference.runtime.predictor import Predictor

# The seed writes confidences and probabilities with three decimals (0.942).
DECIMALS = 3


class LeukemiaPredictor(Predictor):
    roles: ClassVar[tuple[str, ...]] = ("feature_extractor", "classifier", "scaler")

    def load(self, weights: dict[str, Any]) -> None:
        self.extractor = self.build(FeatureExtractor(), weights["feature_extractor"])
        self.scaler = self.build(FeatureScaler(), weights["scaler"])
        self.classifier = self.build(Classifier(), weights["classifier"])

    def preprocess(self, item: dict[str, Any]) -> torch.Tensor:
        return image_to_tensor(item["image"])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(self.scaler(self.extractor(batch))), dim=1)

    def postprocess(self, output: torch.Tensor, item: dict[str, Any]) -> dict[str, Any]:
        """Probabilities to three decimals, as the seed writes them; the level is read off
        the rounded confidence, so the two a client sees always agree."""
        values = output.tolist()
        probabilities = {name: round(p, DECIMALS) for name, p in zip(CLASSES, values, strict=True)}
        predicted = CLASSES[int(output.argmax())]
        confidence = probabilities[predicted]
        return {
            "prediction": {
                "predicted_class": predicted,
                "confidence": confidence,
                "confidence_level": confidence_level(confidence),
                "description": DESCRIPTIONS[predicted],
            },
            "probabilities": probabilities,
        }

    def warmup_item(self) -> dict[str, Any]:
        return {"image": Image.new("RGB", (64, 64), (200, 170, 200))}
