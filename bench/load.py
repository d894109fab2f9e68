"""Load against a live platform: throughput and latency by concurrency, embedded and distributed.

Starts each target itself, as a user would run it, on this machine:

* ``embedded``: ``make run``'s mode: one daphne, SQLite, tasks run eagerly in its process;
* ``distributed``: daphne + a private ``redis-server`` + one Celery worker, PostgreSQL
  (a fresh ``medimg_bench`` database on the machine's server);
* ``litserve``: the peer, LitServe serving the same models on the same paths
  (``bench/peer/server.py``);

creates a customer and an API key with ``manage.py``, and sends the same image
(``bench/samples.py``) to each endpoint from an async load generator (httpx): VHS
single-image predict without render, and leukemia base64 predict.  For each target,
endpoint and concurrency it reports throughput, p50/p95/p99, errors, answers that were 200
but carry a ``billing_error``, and the load generator's own CPU use (share of one core: the
generator shares the machine with the servers).

    .venv/bin/python bench/load.py [--targets litserve embedded distributed] [--concurrency 1 32]
        [--requests 48] [--json out.json] [--plot out.png]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench.samples import leukemia_png, vhs_png  # noqa: E402
from bench.stats import percentile  # noqa: E402
from tests.servers import (  # noqa: E402
    ServerProcess,
    free_port,
    platform_env,
    recreate_database,
    run_manage,
    start_celery_worker,
    start_daphne,
    start_redis,
)

DISTRIBUTED_DATABASE = "medimg_bench"
#: The servers' /metrics token (config.metrics): the harness reads server time and batches.
METRICS_TOKEN = "bench-metrics-token"
#: Requests per concurrency level are at least this many times the concurrency.
ROUNDS_PER_CLIENT = 4


@dataclass
class Endpoint:
    name: str
    path: str
    body: dict
    product: str


def endpoints() -> list[Endpoint]:
    vhs = base64.b64encode(vhs_png()).decode("ascii")
    cell = base64.b64encode(leukemia_png()).decode("ascii")
    return [
        Endpoint("vhs predict", "/vhs/v3/predict", {"image": vhs, "render": False}, "vhs"),
        Endpoint("leukemia predict", "/leukemia/predict", {"image_base64": cell}, "leukemia"),
    ]


@dataclass
class Stack:
    """A running target: its base URL, an API key, and the processes to stop."""

    name: str
    base_url: str
    key: str
    processes: list[ServerProcess] = field(default_factory=list)
    #: Where the inference series are: the web process (embedded) or the worker's exporter.
    inference_metrics_url: str = ""

    def scrape(self, url: str) -> dict[tuple[str, frozenset], float]:
        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        text = httpx.get(url, headers=headers, timeout=30).text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def metrics(self) -> dict[str, dict]:
        if not self.inference_metrics_url:  # the peer publishes none
            return {"web": {}, "inference": {}}
        return {
            "web": self.scrape(f"{self.base_url}/metrics"),
            "inference": self.scrape(self.inference_metrics_url),
        }

    def stop(self) -> None:
        for process in reversed(self.processes):
            # LitServe's inference workers are children the server does not stop with itself.
            orphans = descendants(process.process.pid) if process.process else []
            process.stop()
            for pid in orphans:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), deepest last."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def api_key(env: dict[str, str]) -> str:
    """A fresh customer's raw API key (``create_customer``, then ``create_api_key``)."""
    name = f"Bench clinic {uuid.uuid4().hex[:6]}"
    run_manage(env, "create_customer", name)
    return run_manage(env, "create_api_key", name).strip().splitlines()[-1]


PEER_SITE = REPO_ROOT / "var" / "peer-site"


def start_peer(server_env: dict[str, str]) -> Stack:
    """LitServe serving the same models (``bench/peer/server.py``), from ``PEER_SITE``."""
    if not (PEER_SITE / "litserve").is_dir():
        raise SystemExit(
            f"LitServe is not installed in {PEER_SITE}: pip install --target {PEER_SITE} "
            "-r bench/peer/requirements.txt (make bench does)"
        )
    port = free_port()
    env = platform_env(
        f"sqlite:///{PEER_SITE / 'unused.sqlite3'}",
        None,
        **server_env,
        PYTHONPATH=os.pathsep.join([str(PEER_SITE), str(REPO_ROOT)]),
    )
    peer = ServerProcess(
        "litserve", [sys.executable, "bench/peer/server.py", "--port", str(port)], env
    )

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).text == "ok"
        except httpx.HTTPError:
            return False

    peer.start(ready=ready, timeout=180)
    return Stack("litserve", f"http://127.0.0.1:{port}", "", [peer])


def start_stack(name: str, scratch: Path, server_env: dict[str, str] | None = None) -> Stack:
    folder = scratch / f"{name}-{uuid.uuid4().hex[:6]}"
    (folder / "tmp").mkdir(parents=True)
    if name == "litserve":
        return start_peer(server_env or {})
    metrics_port = free_port()
    extra = {
        **(server_env or {}),
        "METRICS_TOKEN": METRICS_TOKEN,
        "WORKER_METRICS_PORT": str(metrics_port),
        "TMPDIR": str(folder / "tmp"),
        "LEUKEMIA_KEY_RATE": "1000000/min",
        "LEUKEMIA_ANON_RATE": "1000000/min",
    }
    processes: list[ServerProcess] = []
    try:
        if name == "embedded":
            env = platform_env(f"sqlite:///{folder / 'db.sqlite3'}", None, **extra)
        else:
            redis, redis_url = start_redis()
            processes.append(redis)
            recreate_database(DISTRIBUTED_DATABASE)
            database = f"postgres://postgres@127.0.0.1:5432/{DISTRIBUTED_DATABASE}"
            env = platform_env(database, redis_url, **extra)
        run_manage(env, "migrate", "--no-input", "-v", "0")
        key = api_key(env)
        if name == "distributed":
            processes.append(start_celery_worker(env, redis_url, options=())[0])
        daphne, base_url = start_daphne(env)
        processes.append(daphne)
    except BaseException:
        for process in reversed(processes):
            process.stop()
        raise
    inference = (
        f"{base_url}/metrics" if name == "embedded" else f"http://127.0.0.1:{metrics_port}/metrics"
    )
    return Stack(name, base_url, key, processes, inference)


def _delta(before: dict, after: dict, name: str, match: dict[str, str]) -> tuple[float, float]:
    """(sum, count) of histogram ``name`` over the series whose labels include ``match``."""
    totals = []
    for suffix in ("_sum", "_count"):
        total = 0.0
        for (sample, labels), value in after.items():
            if sample == name + suffix and set(match.items()) <= labels:
                total += value - before.get((sample, labels), 0.0)
        totals.append(total)
    return totals[0], totals[1]


def server_side(stack: Stack, endpoint: Endpoint, before: dict, after: dict) -> dict:
    """What the servers' /metrics say about one level: server time per request, and the
    items per forward pass each of the product's model groups formed."""
    total, count = _delta(
        before["web"], after["web"], "medimg_http_request_seconds", {"route": endpoint.path}
    )
    groups = {
        dict(labels)["group"]
        for (sample, labels) in after["inference"]
        if sample == "medimg_inference_batch_size_count" and ("product", endpoint.product) in labels
    }
    batches = {}
    for group in sorted(groups):
        match = {"product": endpoint.product, "group": group}
        items, passes = _delta(
            before["inference"], after["inference"], "medimg_inference_batch_size", match
        )
        if passes:
            batches[group] = round(items / passes, 2)
    return {
        "server_ms": round(total / count * 1000, 1) if count else None,
        "items_per_forward_pass": batches,
    }


async def load(
    stack: Stack, endpoint: Endpoint, concurrency: int, requests: int
) -> tuple[dict, dict]:
    """``requests`` calls from ``concurrency`` clients: the servers' metrics before the timed
    calls (after a warm-up), and what the calls measured."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    billing_errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    headers = {"x-api-key": stack.key} if stack.key else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal billing_errors
        while not queue.empty():
            queue.get_nowait()
            started = time.perf_counter()
            try:
                response = await http.post(endpoint.path, json=endpoint.body, headers=headers)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[response.status_code] += 1
            if response.status_code == 200 and "billing_error" in response.text:
                billing_errors += 1

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=300, limits=limits) as http:
        # Warm: every connection opened and the first (slow) requests out of the figures.
        await asyncio.gather(
            *(
                http.post(endpoint.path, json=endpoint.body, headers=headers)
                for _ in range(min(concurrency, 4))
            )
        )
        before = stack.metrics()  # after the warm-up, so it is not in the server-side figures
        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return before, {
        "target": stack.name,
        "endpoint": endpoint.name,
        "concurrency": concurrency,
        "requests": requests,
        "req_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(percentile(latencies, 0.50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "billing_errors": billing_errors,
        "load_generator_cpu_share": round(cpu / wall, 3),
    }


def plot(rows: list[dict], path: Path) -> None:
    """Throughput and p50/p99 latency against concurrency, one line per target and endpoint."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = sorted({(row["target"], row["endpoint"]) for row in rows})
    for target, endpoint in series:
        points = sorted(
            (r for r in rows if (r["target"], r["endpoint"]) == (target, endpoint)),
            key=lambda r: r["concurrency"],
        )
        levels = [r["concurrency"] for r in points]
        label = f"{target}: {endpoint}"
        left.plot(levels, [r["req_per_s"] for r in points], marker="o", label=label)
        (line,) = right.plot(levels, [r["p50_ms"] for r in points], marker="o", label=label)
        right.plot(levels, [r["p99_ms"] for r in points], ls="--", color=line.get_color())
    left.set(xlabel="concurrency", ylabel="requests / s", title="Throughput", xscale="log")
    right.set(
        xlabel="concurrency",
        ylabel="ms",
        title="Latency (p50 solid, p99 dashed)",
        xscale="log",
        yscale="log",
    )
    for axis in (left, right):
        axis.grid(alpha=0.3)
    left.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--targets",
        nargs="+",
        default=["litserve", "embedded", "distributed"],
        choices=["litserve", "embedded", "distributed"],
    )
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--requests", type=int, default=48, help="at least, per level")
    parser.add_argument("--endpoints", nargs="+", default=None, help="names, e.g. 'vhs predict'")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the servers (repeatable), e.g. OMP_NUM_THREADS=1",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)

    scratch = Path(tempfile.mkdtemp(prefix="medimg-load-"))
    chosen = [e for e in endpoints() if args.endpoints is None or e.name in args.endpoints]
    rows = []
    try:
        for target in args.targets:
            stack = start_stack(target, scratch, server_env)
            try:
                for endpoint in chosen:
                    for level in args.concurrency:
                        count = max(args.requests, ROUNDS_PER_CLIENT * level)
                        before, row = asyncio.run(load(stack, endpoint, level, count))
                        row.update(server_side(stack, endpoint, before, stack.metrics()))
                        rows.append(row)
                        print(json.dumps(row), flush=True)
            finally:
                stack.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=2))
    if args.plot:
        plot(rows, args.plot)
    failed = [r for r in rows if r["errors"] or r["billing_errors"] or set(r["statuses"]) - {200}]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
