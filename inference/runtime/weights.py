"""Loading weight files safely.

``torch.load`` of an arbitrary pickle runs arbitrary code.  State dicts are loaded with
``weights_only=True``; TorchScript archives with ``torch.jit.load`` (no pickled Python code);
a whole pickled module is refused unless ``TRUST_PICKLED_MODELS`` is set for files one
trusts as much as the code itself.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch


class UnsafeWeights(Exception):
    """The file needs full unpickling, which is not trusted."""


def load_weights(
    path: Path, file_format: str, device: torch.device, trust_pickled: bool = False
) -> Any:
    """A state dict (``state_dict``), a ScriptModule (``torchscript``) or a module."""
    if file_format == "state_dict":
        try:
            return torch.load(path, map_location=device, weights_only=True)
        except pickle.UnpicklingError as exc:
            raise UnsafeWeights(
                f"{path.name} holds pickled Python objects, not plain tensors; refusing to "
                "unpickle it (save a state_dict instead, or list it as pickled_module and "
                "set TRUST_PICKLED_MODELS=true for a file you trust)"
            ) from exc
    if file_format == "torchscript":
        return torch.jit.load(str(path), map_location=device)
    if file_format == "pickled_module":
        if not trust_pickled:
            raise UnsafeWeights(
                f"{path.name} is a pickled module; set TRUST_PICKLED_MODELS=true to load it"
            )
        return torch.load(path, map_location=device, weights_only=False)
    raise ValueError(f"unknown weight format {file_format!r}")
