"""The one shape every product's model takes (STYLE.md, LitServe's ``LitAPI``).

A product writes a small ``Predictor`` subclass per model group: how to build its networks
from loaded weights, how to turn one request item into a tensor, the forward pass over a
batch, and how to turn one output row into a JSON-safe result.  ``inference.runtime.serving``
owns the rest: checksums, safe loading, device, warm-up, batching, status, and decoding the
request's image once (an item arrives with its checked Pillow image under ``"image"``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch


class Predictor(ABC):
    #: Manifest roles this predictor needs, each a weight file in the product's folder.
    roles: ClassVar[tuple[str, ...]]

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def build(self, module: torch.nn.Module, state_dict: dict) -> torch.nn.Module:
        """``module`` with ``state_dict`` (every key must match), on the device, in eval mode."""
        module.load_state_dict(state_dict, strict=True)
        return module.to(self.device).eval()

    @abstractmethod
    def load(self, weights: dict[str, Any]) -> None:
        """Build the networks from ``weights`` (role -> state dict or module), on ``device``."""

    @abstractmethod
    def preprocess(self, item: Any) -> torch.Tensor:
        """One request item -> one input tensor (no batch dimension), in the caller's thread.

        An item sent with an image carries it decoded and checked under ``item["image"]``.
        """

    @abstractmethod
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """One forward pass over a stacked batch already on ``device``; one output row per item."""

    @abstractmethod
    def postprocess(self, output: torch.Tensor, item: Any) -> dict[str, Any]:
        """One output row (on the CPU) -> the JSON-safe result for that item."""

    @abstractmethod
    def warmup_item(self) -> Any:
        """An item to run once at start-up so the first real request is not the slow one."""
