"""What every reference-model training shares: disjoint seeds and reproducible torch.

Training draws its phantoms from dataset seed ``2 * seed`` (even) and evaluation from
``2 * seed + 1`` (odd); the phantom generators give each dataset seed its own block of image
seeds, so for any pair of seeds no held-out image can be a training image.

An agreement set (fixed truths spread evenly over a range, to measure agreement rather than
average error) takes the last tenth of the evaluation block (``agreement_phantom_seeds``):
an odd dataset seed, so no training draws it, and the end of the block, which held-out sets
(drawn from the block's start, a few thousand at most) never reach.
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


#: The share of an evaluation block, at its end, kept for the agreement set.
AGREEMENT_SHARE = 10


def agreement_phantom_seeds(seed: int, n: int, stride: int) -> range:
    """Phantom seeds of evaluation ``seed``'s agreement set (``stride``: the generator's
    seeds per dataset): the last ``stride // AGREEMENT_SHARE`` of its odd evaluation block, so
    it is neither a training image nor one of the held-out images drawn from the block's
    start."""
    size = stride // AGREEMENT_SHARE
    if not 0 <= n <= size:
        raise ValueError(f"an agreement set holds 0..{size} phantoms, got {n}")
    start = evaluation_dataset_seed(seed) * stride + stride - size
    return range(start, start + n)


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
