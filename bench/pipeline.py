"""The in-process limit: what this machine does with a product's pipeline and no platform.

For each product (VHS single-image predict without render, leukemia predict), on the same
image ``bench/load.py`` sends (``bench/samples.py``):

1. **one thread**: decode -> preprocess -> forward -> postprocess in the calling thread
   (``ProductRuntime.run(..., inline=True)``: no batcher, no queue), with torch's intra-op
   threads at 1 and at the machine's cores: a lone request's latency, p50 over ``--repeat``;
2. **the served runtime**: the same request through the worker's micro-batchers, alone;
3. **saturation**: ``--concurrency`` threads submitting at once for ``--seconds``:
   the batched runtime (batch <= 16), the unbatched one (batch 1), and every thread running
   its own request inline.

Every configuration runs in the same process, interleaved over ``--rounds``; ratios compare
within this run only.  ``--json FILE`` writes the figures for ``bench/report.py``.

    .venv/bin/python bench/pipeline.py [--products vhs leukemia] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

import torch  # noqa: E402

from bench.runtime_batching import runtime  # noqa: E402
from bench.samples import leukemia_png, vhs_png  # noqa: E402

CORES = os.cpu_count() or 1
ITEMS: dict[str, Callable[[], dict]] = {
    "vhs": lambda: {"image_bytes": vhs_png(), "render": False},
    "leukemia": lambda: {"image_bytes": leukemia_png()},
}


def lone_p50_ms(run: Callable[[], object], repeat: int) -> float:
    for _ in range(3):  # warm caches and allocator
        run()
    latencies = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        latencies.append((time.perf_counter() - started) * 1000)
    return statistics.median(latencies)


def saturated_rps(run: Callable[[], object], threads: int, seconds: float) -> float:
    """Requests per second with ``threads`` threads each running requests back to back."""
    done = [0] * threads
    barrier = threading.Barrier(threads + 1)
    stop_at: list[float] = []

    def client(index: int) -> None:
        barrier.wait()
        while time.perf_counter() < stop_at[0]:
            run()
            done[index] += 1

    pool = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    started = time.perf_counter()
    stop_at.append(started + seconds)
    barrier.wait()
    for thread in pool:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def measure(product: str, args: argparse.Namespace) -> dict[str, float]:
    item = ITEMS[product]()
    batched = runtime(16, 5.0, name=product)
    unbatched = runtime(1, 0.0, name=product)
    figures: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    for _ in range(args.rounds):
        for threads in sorted({1, CORES}):
            torch.set_num_threads(threads)
            record(
                f"one thread, torch threads {threads}: p50 ms",
                lone_p50_ms(lambda: batched.run(dict(item), inline=True), args.repeat),
            )
        torch.set_num_threads(CORES)
        record(
            "served runtime, alone: p50 ms",
            lone_p50_ms(lambda: batched.run(dict(item)), args.repeat),
        )
        c = args.concurrency
        record(
            f"batched runtime, {c} threads: req/s",
            saturated_rps(lambda: batched.run(dict(item)), c, args.seconds),
        )
        record(
            f"unbatched runtime, {c} threads: req/s",
            saturated_rps(lambda: unbatched.run(dict(item)), c, args.seconds),
        )
        for threads in sorted({1, CORES}):
            torch.set_num_threads(threads)
            record(
                f"inline, {c} threads, torch threads {threads}: req/s",
                saturated_rps(lambda: batched.run(dict(item), inline=True), c, args.seconds),
            )
        torch.set_num_threads(CORES)
    stats = batched.status()["batching"]
    result = {name: round(statistics.median(values), 2) for name, values in figures.items()}
    result["batched runtime: items per forward pass"] = round(stats["items"] / stats["batches"], 2)
    fastest = min(v for k, v in result.items() if k.startswith("one thread"))
    result["fastest one-thread p50 ms"] = fastest
    result["best saturated req/s"] = max(v for k, v in result.items() if k.endswith("req/s"))
    batched.unload()
    unbatched.unload()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", nargs="+", default=list(ITEMS), choices=list(ITEMS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=30, help="lone requests per p50")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0, help="per saturation figure")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for product in args.products:
        results[product] = measure(product, args)
        print(f"\n## {product} in-process ({CORES} cores, torch {torch.__version__})\n")
        print("| measure | value |\n|---|---|")
        for name, value in results[product].items():
            print(f"| {name} | {value} |")
    if args.json:
        args.json.write_text(json.dumps({"cores": CORES, "products": results}, indent=2))


if __name__ == "__main__":
    main()
