"""The leukemia API end to end: throughput and latency as concurrency grows.

Starts a real daphne server and a real Celery worker on Redis (as the integration tests do),
then sends the same number of requests at several concurrency levels, interleaved over a few
rounds, and prints each level's throughput as a ratio to concurrency 1. All in one run: the
machines are shared and noisy, so compare ratios, not absolute numbers across runs.

    .venv/bin/python bench/leukemia_http.py [--requests 128] [--levels 1,8,32,64]

Needs PostgreSQL and Redis on their standard ports (it uses Redis database 13).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import redis  # noqa: E402
import requests  # noqa: E402

from bench.samples import leukemia_payloads  # noqa: E402
from tests.servers import platform_env, start_celery_worker, start_daphne  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/13"
DATABASE = "medimg_bench"


def run_level(url: str, payloads: list[dict], concurrency: int) -> tuple[float, list[float]]:
    """(requests per second, latencies in ms) for ``payloads`` sent ``concurrency`` at a time."""

    def one(payload: dict) -> float:
        started = time.perf_counter()
        response = requests.post(url, json=payload, timeout=300)
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = list(pool.map(one, payloads))
    return len(payloads) / (time.perf_counter() - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=128)
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {DATABASE}"],
        capture_output=True,
        check=False,
    )
    database_url = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = platform_env(
        database_url,
        REDIS_URL,
        LEUKEMIA_ANON_RATE="1000000/min",
        CELERY_WORKER_CONCURRENCY=str(max(levels)),
        INFERENCE_MAX_BATCH_SIZE="16",
    )
    import django

    django.setup()
    payloads = leukemia_payloads(args.requests, first_seed=70_000)
    worker, _ = start_celery_worker(env, REDIS_URL)
    daphne, base_url = start_daphne(env)
    url = f"{base_url}/leukemia/predict"
    results: dict[int, list[float]] = {level: [] for level in levels}
    latencies: dict[int, list[float]] = {level: [] for level in levels}
    try:
        run_level(url, payloads[:16], 4)  # warm the connection pools
        for _ in range(args.rounds):
            for level in levels:
                rps, lat = run_level(url, payloads, level)
                results[level].append(rps)
                latencies[level] += lat
        health = requests.get(f"{base_url}/health/", timeout=30).json()
    finally:
        daphne.stop()
        worker.stop()

    base = statistics.median(results[levels[0]])
    print(f"{args.requests} requests per level, {args.rounds} rounds, medians")
    print("| concurrency | req/s | ratio to 1 | p50 ms | p95 ms |")
    print("|---|---|---|---|---|")
    for level in levels:
        rps = statistics.median(results[level])
        ordered = sorted(latencies[level])
        p95 = ordered[int(len(ordered) * 0.95) - 1]
        print(
            f"| {level} | {rps:.1f} | {rps / base:.2f} | "
            f"{statistics.median(ordered):.1f} | {p95:.1f} |"
        )
    workers = health["products"]["leukemia"]["workers"]
    batching = next(iter(workers.values()))["batching"]
    print(
        f"worker: {batching['batches']} forward passes for {batching['items']} items, "
        f"largest batch {batching['largest']}"
    )


if __name__ == "__main__":
    main()
