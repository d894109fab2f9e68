"""Which device a worker runs its models on."""

from __future__ import annotations

import torch


def choose_device(preference: str = "auto") -> torch.device:
    """``auto`` picks cuda > mps > cpu; anything else is taken as a torch device name.

    A named device that this machine lacks (``cuda`` on a CPU box) is an error at start-up,
    not a silent fall-back, so a misconfigured GPU worker is noticed at once.
    """
    if preference in ("", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"INFERENCE_DEVICE={preference!r} but CUDA is not available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"INFERENCE_DEVICE={preference!r} but MPS is not available")
    return device
