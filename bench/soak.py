"""Soak: every product under sustained mixed load against the distributed platform.

Starts its own stack (a private ``redis-server`` on a free port, a fresh PostgreSQL database
``medimg_soak`` on the machine's server, a real Celery worker and a real daphne, both with a
private ``TMPDIR``), then keeps ``--concurrency`` clients busy for ``--minutes`` with a mix of
every product's calls: leukemia (base64 and upload), VHS (single, batch, stream, corners,
history, health), chest X-ray (a study read from the input root, an upload) and the health
endpoints.  It checks what issue 20 asks of a long run:

* zero 5xx responses (and no transport error);
* the resident memory of daphne and of the worker within +10 % of what it was after warm-up;
* no leaked file descriptors (each process's count when idle, after warm-up and at the end;
  pooled Redis and PostgreSQL connections counted apart, bounded by the concurrency)
  and no temporary files left in the servers' ``TMPDIR``;
* usage events equal to the billable responses exactly, per product, and one usage event
  per answered prediction call.

    .venv/bin/python bench/soak.py [--minutes 10] [--concurrency 32] [--warmup 60]

Prints the figures as a Markdown table (recorded in ``docs/reliability.md``) and exits 1 when
a check fails.  ``make soak`` runs it with the defaults.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import requests  # noqa: E402

from bench.stats import percentile  # noqa: E402
from tests.servers import (  # noqa: E402
    TEST_SECRET_KEY,
    ServerProcess,
    platform_env,
    recreate_database,
    run_manage,
    start_celery_worker,
    start_daphne,
    start_redis,
)

DATABASE = "medimg_soak"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
PASSWORD = "soak-radiologist-pass-1"
#: Growth allowed between the idle samples after warm-up and at the end.
MEMORY_GROWTH_LIMIT = 0.10
FD_SLACK = 4
IDLE_SETTLE_SECONDS = 10
IDLE_READINGS = 5


@dataclass
class Call:
    """One kind of request in the mix: its name, weight and how to send it."""

    name: str
    weight: int
    send: Callable[[requests.Session], requests.Response]
    #: The product billed for it, and whether an answered call is billable.
    product: str | None = None
    billable: Callable[[requests.Response], bool] | None = None


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    answered: Counter = field(default_factory=Counter)  # product -> answered prediction calls
    billable: Counter = field(default_factory=Counter)  # product -> billable responses
    server_errors: list[str] = field(default_factory=list)

    def record(self, call: Call, response: requests.Response, seconds: float) -> None:
        with self.lock:
            self.statuses[(call.name, response.status_code)] += 1
            self.latencies.setdefault(call.name, []).append(seconds)
            if response.status_code >= 500 and len(self.server_errors) < 20:
                self.server_errors.append(
                    f"{call.name} {response.status_code} {response.text[:200]}"
                )
            if call.product and response.status_code == 200:
                self.answered[call.product] += 1
                if call.billable and call.billable(response):
                    self.billable[call.product] += 1


def b64(image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def build_mix(base_url: str, key: str, token: str, cxr_input: Path) -> list[Call]:
    """The calls of the mix, with their payloads drawn once from the phantom generators."""
    from inference.phantoms.cxr import draw_study, save_dicom
    from inference.phantoms.leukemia import CLASSES, draw_cell
    from inference.phantoms.pop import draw_pop
    from inference.phantoms.vhs import draw_radiograph

    cells = [b64(draw_cell(CLASSES[i % len(CLASSES)], seed=90_000 + i).image) for i in range(8)]
    dogs = [b64(draw_radiograph(seed=500 + i, crop=False).image) for i in range(6)]
    photos = [b64(draw_pop(seed=700 + i, max_side=800).image, "JPEG") for i in range(3)]
    studies = []
    for i in range(3):
        path = cxr_input / f"soak-{i}.dcm"
        save_dicom(draw_study(seed=300 + i), path)
        studies.append(path)
    keyed = {"x-api-key": key}
    jwt = {"Authorization": token}

    def post(path: str, headers: dict, **kwargs) -> Callable[[requests.Session], requests.Response]:
        return lambda session: session.post(
            f"{base_url}{path}", headers=headers, timeout=300, **kwargs
        )

    def get(
        path: str, headers: dict | None = None
    ) -> Callable[[requests.Session], requests.Response]:
        return lambda session: session.get(f"{base_url}{path}", headers=headers, timeout=60)

    def vhs_single(session: requests.Session) -> requests.Response:
        body = {"image": random.choice(dogs), "uuid": f"dog-{uuid.uuid4().hex[:12]}"}
        return session.post(f"{base_url}/vhs/v3/predict", json=body, headers=keyed, timeout=300)

    def vhs_batch(session: requests.Session) -> requests.Response:
        body = {"images": random.sample(dogs, 3), "uuid": f"dog-{uuid.uuid4().hex[:12]}"}
        return session.post(f"{base_url}/vhs/v3/predict", json=body, headers=keyed, timeout=300)

    def vhs_stream(session: requests.Session) -> requests.Response:
        body = {"images": random.sample(dogs, 2), "uuid": f"dog-{uuid.uuid4().hex[:12]}"}
        response = session.post(
            f"{base_url}/vhs/v3/predict/stream", json=body, headers=keyed, timeout=300, stream=True
        )
        response._content = response.raw.read()  # the whole stream, to its summary event
        return response

    def leukemia_upload(session: requests.Session) -> requests.Response:
        image = base64.b64decode(random.choice(cells))
        return session.post(
            f"{base_url}/leukemia/predict/upload",
            files={"file": ("cell.png", image, "image/png")},
            headers=keyed,
            timeout=300,
        )

    def cxr_path(session: requests.Session) -> requests.Response:
        body = {"input_image_path": str(random.choice(studies)), "save_to_disk": False}
        return session.post(f"{base_url}/cxr/single_inference", json=body, headers=jwt, timeout=300)

    def cxr_upload(session: requests.Session) -> requests.Response:
        study = random.choice(studies)
        return session.post(
            f"{base_url}/cxr/single_inference/upload",
            files={"file": (study.name, study.read_bytes(), "application/dicom")},
            headers=jwt,
            timeout=300,
        )

    def vhs_billed(response: requests.Response) -> bool:
        return bool(response.json().get("billing", {}).get("billable"))

    def stream_billed(response: requests.Response) -> bool:
        for block in response.content.decode().split("\n\n"):
            if block.startswith("event: summary"):
                data = block.split("data: ", 1)[1]
                return bool(json.loads(data)["billing"]["billable"])
        return False

    def always(_: requests.Response) -> bool:
        return True

    def leukemia_b64(session: requests.Session) -> requests.Response:
        body = {"image_base64": random.choice(cells)}
        return session.post(f"{base_url}/leukemia/predict", json=body, headers=keyed, timeout=300)

    return [
        Call("leukemia predict", 6, leukemia_b64, "leukemia", always),
        Call("leukemia upload", 3, leukemia_upload, "leukemia", always),
        Call("vhs predict", 5, vhs_single, "vhs", vhs_billed),
        Call("vhs batch of 3", 2, vhs_batch, "vhs", vhs_billed),
        Call("vhs stream of 2", 2, vhs_stream, "vhs", stream_billed),
        Call("vhs corners", 1, post("/vhs/v3/corners", keyed, json={"image": photos[0]})),
        Call("vhs measurements", 1, get("/vhs/v3/measurements?uuid=dog-none", keyed)),
        Call("cxr study by path", 2, cxr_path, "cxr", always),
        Call("cxr upload", 1, cxr_upload, "cxr", always),
        Call("health", 1, get("/health/")),
        Call("leukemia health", 1, get("/leukemia/health")),
        Call("vhs health", 1, get("/vhs/v3/health", keyed)),
    ]


#: Remote ports whose connections are pooled (Redis, PostgreSQL): ``main`` adds the private
#: Redis's.  A pool opens connections up to its peak concurrent use and keeps them, so they
#: are counted apart from every other descriptor; a leak grows with the requests served.
POOLED_PORTS: dict[int, str] = {5432: "postgresql"}


def _socket_ports(pid: int) -> dict[str, int]:
    """``socket:[inode]`` -> the remote TCP port of each of the process's connections."""
    ports = {}
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            remote, inode = fields[2], fields[9]
            ports[f"socket:[{inode}]"] = int(remote.rsplit(":", 1)[1], 16)
    return ports


def process_sample(server: ServerProcess) -> dict[str, int]:
    """Resident memory (KiB) and open file descriptors of a server process: ``fds`` all of
    them, ``pooled`` the connections to ``POOLED_PORTS``, ``other`` the rest."""
    pid = server.process.pid
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:  # closed while listed
            continue
    ports = _socket_ports(pid)
    pooled = sum(1 for target in targets if ports.get(target) in POOLED_PORTS)
    return {"rss_kib": rss, "fds": len(targets), "pooled": pooled, "other": len(targets) - pooled}


class MemorySampler(threading.Thread):
    """Samples each server's resident memory every ``every`` seconds while the load runs.

    Two idle samples say whether memory grew; the curve between them says whether it is
    still growing at the end (a leak) or has levelled off (caches and allocator arenas
    reaching their working size)."""

    def __init__(self, servers: dict[str, ServerProcess], every: float) -> None:
        super().__init__(daemon=True)
        self.servers, self.every = servers, every
        self.started = time.monotonic()
        self.curve: list[tuple[float, dict[str, int]]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            sample = {name: process_sample(s)["rss_kib"] for name, s in self.servers.items()}
            self.curve.append((time.monotonic() - self.started, sample))


def request_snapshots(servers: dict[str, ServerProcess], trace: Path, label: str) -> None:
    """Ask each server for a tracemalloc snapshot (``bench/soak_trace``) and wait for it."""
    for server in servers.values():
        (trace / f"{server.process.pid}.request").write_text(label)
    deadline = time.monotonic() + 120
    while any((trace / f"{s.process.pid}.request").exists() for s in servers.values()):
        if time.monotonic() > deadline:
            raise RuntimeError("a server wrote no tracemalloc snapshot")
        time.sleep(0.5)


def report_python_heap(servers: dict[str, ServerProcess], trace: Path) -> None:
    """Python-heap growth per server between the two snapshots, largest sites first."""
    import tracemalloc

    for name, server in servers.items():
        pid = server.process.pid
        warm = tracemalloc.Snapshot.load(str(trace / f"{pid}-warm.snap"))
        end = tracemalloc.Snapshot.load(str(trace / f"{pid}-end.snap"))
        total = [sum(stat.size for stat in snap.statistics("filename")) for snap in (warm, end)]
        print(
            f"\n{name}: Python heap {total[0] / 2**20:.1f} -> {total[1] / 2**20:.1f} MiB; "
            "largest growth by traceback:\n"
        )
        for stat in end.compare_to(warm, "traceback")[:8]:
            print(f"  {stat.size_diff / 2**20:+.2f} MiB ({stat.count_diff:+d} blocks)")
            for line in stat.traceback.format(limit=4):
                print(f"    {line}")


def idle_sample(servers: dict[str, ServerProcess]) -> dict[str, dict[str, int]]:
    """Each server's memory and descriptors once the load has stopped.

    Under load a process's resident memory swings by 10 % within seconds (requests' buffers
    come and go), so one reading says little.  Waiting ``IDLE_SETTLE_SECONDS`` lets
    connections close; the lowest of ``IDLE_READINGS`` readings a second apart is the floor
    the process returns to, which is what a leak raises."""
    time.sleep(IDLE_SETTLE_SECONDS)
    readings = []
    for _ in range(IDLE_READINGS):
        readings.append({name: process_sample(server) for name, server in servers.items()})
        time.sleep(1)
    return {
        name: {key: min(r[name][key] for r in readings) for key in readings[0][name]}
        for name in servers
    }


def drive(mix: list[Call], seconds: float, concurrency: int, tally: Tally) -> None:
    """``concurrency`` clients sending weighted random calls until ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    weights = [call.weight for call in mix]

    def client(index: int) -> None:
        rng = random.Random(index)
        with requests.Session() as session:
            while time.monotonic() < deadline:
                call = rng.choices(mix, weights)[0]
                started = time.perf_counter()
                try:
                    response = call.send(session)
                except requests.RequestException as exc:
                    with tally.lock:
                        tally.errors[(call.name, type(exc).__name__)] += 1
                    continue
                tally.record(call, response, time.perf_counter() - started)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(client, range(concurrency)))


def prepare_database(env: dict[str, str]) -> None:
    recreate_database(DATABASE)
    run_manage(env, "migrate", "--no-input", "-v", "0")


def credentials(base_url: str) -> tuple[str, str]:
    """A customer's API key, and a JWT for a user of that customer from ``/auth/token/``."""
    from django.contrib.auth import get_user_model

    from accounts.models import ApiKey, Customer, Membership

    customer = Customer.objects.create(name="Soak clinic")
    key = ApiKey.issue(customer)[1]
    user = get_user_model().objects.create_user("soak-radiologist", password=PASSWORD)
    Membership.objects.create(user=user, customer=customer)
    response = requests.post(
        f"{base_url}/auth/token/",
        json={"username": "soak-radiologist", "password": PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    return key, response.json()["access"]


def usage_counts() -> tuple[Counter, Counter]:
    from billing.models import UsageEvent

    events, billable = Counter(), Counter()
    for product, is_billable in UsageEvent.objects.values_list("product", "billable"):
        events[product] += 1
        billable[product] += int(is_billable)
    return events, billable


def report(
    args: argparse.Namespace,
    tally: Tally,
    samples: dict[str, dict[str, dict[str, int]]],
    leftover_temp: list[str],
    usage: tuple[Counter, Counter],
    curve: list[tuple[float, dict[str, int]]],
) -> list[str]:
    """Print the figures; return the failed checks."""
    failures = []
    total = sum(tally.statuses.values())
    server_errors = sum(n for (_, status), n in tally.statuses.items() if status >= 500)
    print(f"\n## Soak: {args.minutes} min at concurrency {args.concurrency}\n")
    print(
        f"{total} responses ({total / (args.minutes * 60 + args.warmup):.1f}/s), "
        f"{server_errors} 5xx, "
        f"{sum(tally.errors.values())} transport errors\n"
    )
    print("| call | responses | statuses | p50 s | p95 s |\n|---|---|---|---|---|")
    for name in sorted(tally.latencies):
        statuses = {s: n for (c, s), n in tally.statuses.items() if c == name}
        latencies = tally.latencies[name]
        print(
            f"| {name} | {len(latencies)} | {dict(sorted(statuses.items()))} | "
            f"{percentile(latencies, 0.5):.2f} | {percentile(latencies, 0.95):.2f} |"
        )
    if server_errors or tally.errors:
        failures.append(f"{server_errors} 5xx and {dict(tally.errors)} transport errors")
        for line in tally.server_errors:
            print(f"  5xx: {line}")

    print(
        "\n| process | RSS after warm-up MiB | RSS at end MiB | growth | fds after warm-up | "
        "fds at end |\n|---|---|---|---|---|---|"
    )
    # A pool keeps up to its peak concurrent use, whatever the number of requests served: a
    # request in flight holds at most one connection from the event loop's Redis client and
    # one from a thread's (cache, payloads, database), and Celery's producer pool keeps up to
    # its ``broker_pool_limit`` (10).
    pooled_limit = 2 * args.concurrency + 10
    for name, sample in samples.items():
        before, after = sample["warm"], sample["end"]
        growth = after["rss_kib"] / before["rss_kib"] - 1
        print(
            f"| {name} | {before['rss_kib'] / 1024:.0f} | {after['rss_kib'] / 1024:.0f} | "
            f"{growth:+.1%} | {before['fds']} ({before['pooled']} pooled) | "
            f"{after['fds']} ({after['pooled']} pooled) |"
        )
        if growth > MEMORY_GROWTH_LIMIT:
            failures.append(f"{name} memory grew {growth:+.1%}")
        if after["other"] > before["other"] + FD_SLACK:
            failures.append(
                f"{name} descriptors other than pooled connections {before['other']} -> "
                f"{after['other']}"
            )
        if after["pooled"] > pooled_limit:
            failures.append(f"{name} holds {after['pooled']} pooled connections (> {pooled_limit})")
    if curve:
        names = list(samples)
        print("\nResident memory under load (MiB):\n")
        print("| minute | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
        for seconds, sample in curve:
            row = " | ".join(f"{sample[name] / 1024:.0f}" for name in names)
            print(f"| {seconds / 60:.1f} | {row} |")
    print(f"\nTemporary files left in the servers' TMPDIR: {len(leftover_temp)}")
    if leftover_temp:
        failures.append(f"temporary files left: {leftover_temp[:5]}")

    events, billable_events = usage
    print(
        "\n| product | answered calls | usage events | billable responses | billable events |"
        "\n|---|---|---|---|---|"
    )
    for product in sorted(set(tally.answered) | set(events)):
        print(
            f"| {product} | {tally.answered[product]} | {events[product]} | "
            f"{tally.billable[product]} | {billable_events[product]} |"
        )
        if billable_events[product] != tally.billable[product]:
            failures.append(
                f"{product}: {billable_events[product]} billable events for "
                f"{tally.billable[product]} billable responses"
            )
        if events[product] != tally.answered[product]:
            failures.append(
                f"{product}: {events[product]} usage events for "
                f"{tally.answered[product]} answered calls"
            )
    print("\n" + ("All checks passed." if not failures else "FAILED:\n- " + "\n- ".join(failures)))
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--warmup", type=float, default=60.0, help="seconds of load before the baseline"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for daphne and the worker (repeatable), e.g. an "
        "allocator setting to compare",
    )
    parser.add_argument(
        "--trace-python",
        action="store_true",
        help="run the servers under tracemalloc and print where the Python heap grew",
    )
    parser.add_argument(
        "--sample-every", type=float, default=30.0, help="seconds between memory samples"
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="medimg-soak-"))
    server_tmp, cxr_input, cxr_output = (scratch / name for name in ("tmp", "cxr-in", "cxr-out"))
    for folder in (server_tmp, cxr_input, cxr_output):
        folder.mkdir()
    redis_server, redis_url = start_redis()
    POOLED_PORTS[int(redis_url.rsplit(":", 1)[1].split("/")[0])] = "redis"
    env = platform_env(
        DATABASE_URL,
        redis_url,
        TMPDIR=str(server_tmp),
        CXR_INPUT_ROOTS=str(cxr_input),
        CXR_OUTPUT_ROOTS=str(cxr_output),
        LEUKEMIA_KEY_RATE="1000000/min",
        LEUKEMIA_ANON_RATE="1000000/min",
    )
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=DATABASE_URL,
        SECRET_KEY=TEST_SECRET_KEY,
    )
    servers: dict[str, ServerProcess] = {}
    try:
        prepare_database(env)
        import django

        django.setup()
        env = {**env, **dict(item.split("=", 1) for item in args.server_env)}
        trace = scratch / "trace"
        if args.trace_python:
            trace.mkdir()
            env = {
                **env,
                "SOAK_TRACE_DIR": str(trace),
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO_ROOT / "bench" / "soak_trace"), env.get("PYTHONPATH", "")]
                ),
            }
        servers["worker"], _ = start_celery_worker(env, redis_url)
        servers["daphne"], base_url = start_daphne(env)
        key, token = credentials(base_url)
        mix = build_mix(base_url, key, token, cxr_input)

        tally = Tally()
        print(f"Warm-up: {args.warmup:.0f} s at concurrency {args.concurrency}", flush=True)
        drive(mix, args.warmup, args.concurrency, tally)
        samples = {name: {"warm": sample} for name, sample in idle_sample(servers).items()}
        if args.trace_python:
            request_snapshots(servers, trace, "warm")
        print(f"Soak: {args.minutes} min", flush=True)
        sampler = MemorySampler(servers, args.sample_every)
        sampler.start()
        drive(mix, args.minutes * 60, args.concurrency, tally)
        sampler.done.set()
        for name, sample in idle_sample(servers).items():
            samples[name]["end"] = sample
        if args.trace_python:
            request_snapshots(servers, trace, "end")
            report_python_heap(servers, trace)
        leftover = sorted(str(p.relative_to(server_tmp)) for p in server_tmp.rglob("*"))
        failures = report(args, tally, samples, leftover, usage_counts(), sampler.curve)
    finally:
        for server in servers.values():
            server.stop()
        redis_server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
