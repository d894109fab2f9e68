"""A minimal real predictor for runtime tests: a 2-in, 2-out linear layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from inference.runtime.manifest import write_manifest
from inference.runtime.predictor import Predictor


class TinyPredictor(Predictor):
    roles: ClassVar[tuple[str, ...]] = ("linear",)

    def load(self, weights: dict[str, Any]) -> None:
        self.linear = torch.nn.Linear(2, 2)
        self.linear.load_state_dict(weights["linear"])
        self.linear.to(self.device).eval()

    def preprocess(self, item: Any) -> torch.Tensor:
        return torch.tensor(item["x"], dtype=torch.float32)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.linear(batch)

    def postprocess(self, output: torch.Tensor, item: Any) -> dict[str, Any]:
        return {"y": [round(v, 4) for v in output.tolist()]}

    def warmup_item(self) -> Any:
        return {"x": [0.0, 0.0]}


def identity_linear() -> torch.nn.Linear:
    """y = x, so results are easy to check."""
    layer = torch.nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(2))
        layer.bias.zero_()
    return layer


def make_store(store: Path, product: str = "tiny") -> Path:
    """A model store holding one product with an identity linear layer and its manifest."""
    directory = store / product
    directory.mkdir(parents=True)
    torch.save(identity_linear().state_dict(), directory / "linear.pt")
    write_manifest(store, product, "tiny-1.0", {"linear": "linear.pt"})
    return directory
