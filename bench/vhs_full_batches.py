"""Full legal VHS batches end to end: answers, time and peak memory of daphne and the worker.

The long variant of ``tests/test_integration_vhs_limits.py``: a real daphne and a real Celery
worker (the platform's default settings unless given ``NAME=value`` arguments), then
``--batches`` full legal batches (ten 40-megapixel PNGs of just under 10 MB, ~140 MB of JSON
each), ``--concurrency`` at a time.  Prints each answer's status, the time taken, and the
peak resident memory (VmHWM) of both processes and of Redis, sampled twice a second.

    .venv/bin/python bench/vhs_full_batches.py [--batches 12] [--concurrency 4] [--render]
        [DECODED_PIXELS_MAX_BYTES=536870912 ...]

Needs PostgreSQL and Redis on their standard ports (it uses Redis database 10).
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import redis  # noqa: E402
import requests  # noqa: E402

from tests.legal_images import legal_radiograph  # noqa: E402
from tests.servers import ServerProcess, platform_env, start_celery_worker, start_daphne  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/10"
DATABASE = "medimg_bench"
MB = 1024 * 1024


def memory_mb(process: ServerProcess) -> dict[str, int]:
    assert process.process is not None
    status = Path(f"/proc/{process.process.pid}/status").read_text()
    fields = (line.split() for line in status.splitlines())
    return {f[0].rstrip(":"): int(f[1]) // 1024 for f in fields if f[0] in ("VmRSS:", "VmHWM:")}


def api_key(database_url: str) -> str:
    """A customer's key in the bench database (migrated first)."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=REPO_ROOT, env=env, check=True)
    issued = subprocess.run(
        [
            *manage,
            "shell",
            "-c",
            "from accounts.models import ApiKey, Customer; "
            "print(ApiKey.issue(Customer.objects.get_or_create(name='Bench')[0])[1])",
        ],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return issued.stdout.split()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--render", action="store_true")
    parser.add_argument("settings", nargs="*", help="NAME=value for both processes")
    args = parser.parse_args()

    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {DATABASE}"],
        capture_output=True,
        check=False,
    )
    database_url = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
    key = api_key(database_url)
    images = [base64.b64encode(legal_radiograph()).decode("ascii") for _ in range(10)]
    body = json.dumps({"images": images, "render": args.render}).encode()
    del images
    print(f"one batch: {len(body) / MB:.1f} MB of JSON, 10 images of 40 megapixels")

    store = redis.Redis.from_url(REDIS_URL)
    store.flushdb()
    env = platform_env(database_url, REDIS_URL, **dict(s.split("=", 1) for s in args.settings))
    worker, _ = start_celery_worker(env, REDIS_URL)
    daphne, base_url = start_daphne(env)
    print(f"idle: daphne {memory_mb(daphne)}, worker {memory_mb(worker)}")

    redis_peak = 0
    sampling = True

    def sample() -> None:
        nonlocal redis_peak
        while sampling:
            redis_peak = max(redis_peak, store.info("memory")["used_memory"])
            time.sleep(0.5)

    def post(i: int) -> tuple[int, float]:
        started = time.monotonic()
        response = requests.post(
            f"{base_url}/vhs/v3/predict",
            data=body,
            headers={"x-api-key": key, "Content-Type": "application/json"},
            timeout=400,
        )
        return response.status_code, time.monotonic() - started

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(args.concurrency) as pool:
            answers = list(pool.map(post, range(args.batches)))
        elapsed = time.monotonic() - started
        daphne_memory, worker_memory = memory_mb(daphne), memory_mb(worker)
        left = len(store.keys("payload:*"))
    finally:
        sampling = False
        daphne.stop()
        worker.stop()

    statuses = collections.Counter(status for status, _ in answers)
    print(f"{args.batches} batches, {args.concurrency} at a time, in {elapsed:.1f} s: {statuses}")
    print(f"answer times: {', '.join(f'{seconds:.1f}' for _, seconds in answers)} s")
    print(f"daphne {daphne_memory} MB, worker {worker_memory} MB (VmHWM is the peak)")
    print(f"redis peak {redis_peak / MB:.0f} MB; payloads left behind: {left}")


if __name__ == "__main__":
    main()
