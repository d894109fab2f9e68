"""VHS inference in the worker: what one radiograph costs, and what a 10-image batch saves.

Runs the VHS product's real runtime in-process (classifier, then the 5-member landmark
ensemble, postprocessing included; no HTTP, no broker), on phantom radiographs of the usual sizes:

1. lone images, one after another (a single ``/vhs/v3/predict``);
2. ten images submitted together, as one batch request's ten tasks are: micro-batching
   (batch <= 10) against none (batch 1).

Configurations run interleaved in one process and are reported as ratios.

    .venv/bin/python bench/vhs_inference.py [--images 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from bench.runtime_batching import concurrent_throughput, lone_latencies_ms, runtime
from inference.phantoms.vhs import draw_radiograph


def items(n: int) -> list[dict]:
    """Worker-side items: PNG radiographs (384-768 px), their bytes under ``image_bytes``."""
    work = []
    for seed in range(70_000, 70_000 + n):
        buffer = io.BytesIO()
        draw_radiograph(seed, crop=False).image.save(buffer, format="PNG")
        work.append({"image_bytes": buffer.getvalue()})
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    work = items(args.images)
    batched = runtime(10, 5.0, name="vhs")
    unbatched = runtime(1, 0.0, name="vhs")

    lone = {"batched": [], "unbatched": []}
    busy = {"batched": [], "unbatched": []}
    for _ in range(args.rounds):
        for name, product in (("batched", batched), ("unbatched", unbatched)):
            lone[name] += lone_latencies_ms(product, work[:10])
            busy[name].append(concurrent_throughput(product, work, 10))

    p50 = {name: statistics.median(values) for name, values in lone.items()}
    ips = {name: statistics.median(values) for name, values in busy.items()}
    print(f"device: {batched.status()['device']}, torch threads: {torch.get_num_threads()}")
    print(f"lone image p50: batched {p50['batched']:.1f} ms, unbatched {p50['unbatched']:.1f} ms")
    print(f"  ratio batched/unbatched: {p50['batched'] / p50['unbatched']:.2f}")
    print(
        f"10 images at once: batched {ips['batched']:.1f} img/s, "
        f"unbatched {ips['unbatched']:.1f} img/s"
    )
    print(f"  throughput ratio batched/unbatched: {ips['batched'] / ips['unbatched']:.2f}")
    print(f"  a 10-image batch request: {10 / ips['batched']:.2f} s batched")
    stats = batched.status()["batching"]
    print(f"  batched runtime: {stats['batches']} forward passes for {stats['items']} items")


if __name__ == "__main__":
    main()
