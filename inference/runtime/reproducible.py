"""What every reference-model training shares: disjoint seeds and reproducible torch.

Training draws its phantoms from dataset seed ``2 * seed`` (even) and evaluation from
``2 * seed + 1`` (odd); the phantom generators give each dataset seed its own block of image
seeds, so for any pair of seeds no held-out image can be a training image.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

TRAINING_THREADS = 2


def train_dataset_seed(seed: int) -> int:
    """The phantom dataset seed training draws from (even: disjoint from evaluation)."""
    return 2 * seed


def evaluation_dataset_seed(seed: int) -> int:
    """The phantom dataset seed evaluation draws from (odd: disjoint from training)."""
    return 2 * seed + 1


@contextmanager
def reproducible(seed: int, threads: int = TRAINING_THREADS) -> Iterator[None]:
    """Seeded, deterministic torch on ``threads`` threads for the duration; state restored."""
    previous_threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(True)
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(previous_threads)
