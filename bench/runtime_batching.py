"""Micro-batching in the worker: what the wait costs a lone request, what it buys under load.

Runs the leukemia product's real runtime in-process (no HTTP, no broker), so the numbers are
the runtime's alone:

1. lone requests, one after another: batching wait 5 ms vs no batching (batch size 1);
2. N threads submitting at once (as N Celery worker threads do): batch size 16 vs 1.

Every configuration is measured in the same run, interleaved, and reported as ratios; the
machines are shared and noisy, so absolute figures from different runs do not compare.

    .venv/bin/python bench/runtime_batching.py [--requests 200] [--threads 16]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

import torch  # noqa: E402
from django.test import override_settings  # noqa: E402

from bench.samples import leukemia_payloads  # noqa: E402
from inference.runtime.product import product as declared  # noqa: E402
from inference.runtime.serving import ProductRuntime  # noqa: E402


def items(n: int) -> list[dict]:
    """The worker-side item for each payload: the image's bytes under ``image_bytes``."""
    return [
        {"image_bytes": base64.b64decode(p["image_base64"])}
        for p in leukemia_payloads(n, first_seed=50_000)
    ]


def runtime(batch_size: int, wait_ms: float, name: str = "leukemia") -> ProductRuntime:
    """The declared product's worker runtime, with its own batching settings."""
    with override_settings(
        INFERENCE_MAX_BATCH_SIZE=batch_size, INFERENCE_MAX_BATCH_WAIT_MS=wait_ms
    ):
        product = ProductRuntime(declared(name))
        if not product.load():
            raise SystemExit(f"models not loaded: {product.status()['reason']}")
    return product


def lone_latencies_ms(product: ProductRuntime, work: list[dict]) -> list[float]:
    latencies = []
    for item in work:
        started = time.perf_counter()
        product.run(item)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def concurrent_throughput(product: ProductRuntime, work: list[dict], threads: int) -> float:
    """Requests per second with ``threads`` threads each submitting its share."""
    shares = [work[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def run(share: list[dict]) -> None:
        barrier.wait()
        for item in share:
            product.run(item)

    pool = [threading.Thread(target=run, args=(share,)) for share in shares]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    return len(work) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    work = items(args.requests)
    batched = runtime(batch_size=16, wait_ms=5.0)
    unbatched = runtime(batch_size=1, wait_ms=0.0)

    lone = {"batched": [], "unbatched": []}
    busy = {"batched": [], "unbatched": []}
    for _ in range(args.rounds):  # interleaved, so drift in machine load hits both alike
        for name, product in (("batched", batched), ("unbatched", unbatched)):
            lone[name] += lone_latencies_ms(product, work[:50])
            busy[name].append(concurrent_throughput(product, work, args.threads))

    p50 = {name: statistics.median(values) for name, values in lone.items()}
    rps = {name: statistics.median(values) for name, values in busy.items()}
    print(f"device: {batched.device}, torch threads: {torch.get_num_threads()}")
    print(f"lone request p50: batched {p50['batched']:.2f} ms, unbatched {p50['unbatched']:.2f} ms")
    print(f"  ratio batched/unbatched: {p50['batched'] / p50['unbatched']:.2f}")
    print(f"  added by the wait: {p50['batched'] - p50['unbatched']:.2f} ms")
    print(
        f"{args.threads} concurrent threads: batched {rps['batched']:.1f} req/s, "
        f"unbatched {rps['unbatched']:.1f} req/s"
    )
    print(f"  throughput ratio batched/unbatched: {rps['batched'] / rps['unbatched']:.2f}")
    stats = batched.status()["batching"]
    print(f"  batched runtime: {stats['batches']} forward passes for {stats['items']} items")


if __name__ == "__main__":
    main()
