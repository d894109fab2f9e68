"""The worker's memory under load without Celery, HTTP or a broker (issue 20, item 13).

The soak (``bench/soak.py``) found the worker's resident memory climbing 6-20 MiB a minute
under load.  This probe runs the products' real worker runtimes in one process, as a
worker's threads do (``ProductRuntime.run`` from ``--threads`` threads, each request's image
decoded by the runtime's own decoder), and samples the process's resident memory, so that
growth here is the inference path's own and not the broker's, Celery's or the web tier's.

    .venv/bin/python bench/memory_probe.py [--minutes 7] [--threads 16]
        [--products leukemia,vhs,cxr] [--sample-every 30] [--trace 8]
        [--stage decode|predict|full]

``--stage`` cuts each request short: ``decode`` decodes the image (within the pixel budget)
and stops, ``predict`` also runs each of the product's required model groups on the decoded
item, ``full`` (the default) runs the product's whole pipeline (PNGs, reports).  Comparing
the three tells which stage's memory grows.

Allocator and library settings are the caller's (``MALLOC_ARENA_MAX=2``,
``ONEDNN_PRIMITIVE_CACHE_CAPACITY=0``, ...): run it once per setting and compare.  With
``--trace N`` it also runs under tracemalloc (N frames) and prints where the Python heap grew
between the end of the warm-up and the end, which tells Python objects piling up from native
memory (the allocator, torch) growing on its own.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from bench.runtime_batching import items as leukemia_items  # noqa: E402
from inference.runtime.product import product as declared  # noqa: E402
from inference.runtime.serving import ProductRuntime  # noqa: E402

WARMUP_S = 60.0


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def vhs_items(n: int) -> list[dict]:
    """Radiographs of the sizes clients send (the phantom's own, 384-1024 px), every third
    one rendered, as ``render: true`` asks."""
    from inference.phantoms.vhs import draw_radiograph

    return [
        {"image_bytes": _png(draw_radiograph(81_000 + i).image), "render": i % 3 == 0}
        for i in range(n)
    ]


def cxr_items(n: int) -> list[dict]:
    """DICOM studies at their full size (640-1024 px), as the worker reads them."""
    from inference.phantoms.cxr import draw_study
    from inference.products.cxr.decoding import decoded_size

    items = []
    for i in range(n):
        buffer = io.BytesIO()
        dataset = draw_study(82_000 + i).dataset
        dataset.save_as(buffer, enforce_file_format=True)
        # What the web tier announces from the header, as the service does.
        size = decoded_size(int(dataset.Rows), int(dataset.Columns))
        items.append({"image_bytes": buffer.getvalue(), "decoded_bytes": size})
    return items


def _decode_only(models, item: dict, deadline: float | None) -> dict:
    return {}


def _predict_only(models, item: dict, deadline: float | None) -> dict:
    for group in models.required_groups:
        models.predict(group.name, item, deadline)
    return {}


#: What a request runs after its decode, by ``--stage`` (None: the product's own pipeline).
STAGES: dict[str, Callable | None] = {
    "decode": _decode_only,
    "predict": _predict_only,
    "full": None,
}

ITEMS: dict[str, Callable[[int], list[dict]]] = {
    "leukemia": leukemia_items,  # PNG cells, the four classes in turn (bench/samples.py)
    "vhs": vhs_items,
    "cxr": cxr_items,
}


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=7.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--products", default=",".join(ITEMS))
    parser.add_argument("--items", type=int, default=24, help="distinct images per product")
    parser.add_argument("--sample-every", type=float, default=30.0)
    parser.add_argument("--trace", type=int, default=0, help="tracemalloc frames (0: off)")
    parser.add_argument("--stage", choices=list(STAGES), default="full")
    args = parser.parse_args()

    names = [name for name in args.products.split(",") if name]
    runtimes = {name: ProductRuntime(declared(name)) for name in names}
    for name, runtime in runtimes.items():
        if not runtime.load():
            raise SystemExit(f"{name}: models not loaded: {runtime.status()['reason']}")
    if STAGES[args.stage] is not None:
        for runtime in runtimes.values():
            runtime._pipeline = STAGES[args.stage]  # a probe's cut: what run() calls after decoding
    work = [(name, item) for name in names for item in ITEMS[name](args.items)]
    print(
        f"products {names}, stage {args.stage}, {len(work)} items, {args.threads} threads, "
        f"pid {os.getpid()}"
    )
    print(
        f"environment: MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX')}, "
        f"ONEDNN_PRIMITIVE_CACHE_CAPACITY={os.environ.get('ONEDNN_PRIMITIVE_CACHE_CAPACITY')}"
    )
    if args.trace:
        tracemalloc.start(args.trace)

    feed = itertools.cycle(work)
    lock = threading.Lock()
    stop = threading.Event()
    calls = {"n": 0, "errors": 0}

    def client() -> None:
        while not stop.is_set():
            with lock:
                name, item = next(feed)
            try:
                runtimes[name].run(dict(item))
            except Exception as error:  # counted, and the first few reported
                with lock:
                    calls["errors"] += 1
                    first = calls["errors"] <= 5
                if first:
                    print(f"{name}: {type(error).__name__}: {error}", file=sys.stderr)
            with lock:
                calls["n"] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.threads)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(WARMUP_S)
    baseline, baseline_calls = rss_mib(), calls["n"]
    snapshot = tracemalloc.take_snapshot() if args.trace else None
    print(f"after {WARMUP_S:.0f} s warm-up: {baseline:.0f} MiB, {baseline_calls} calls")
    end = started + WARMUP_S + args.minutes * 60
    while time.monotonic() < end:
        time.sleep(min(args.sample_every, max(end - time.monotonic(), 0.0)))
        print(
            f"{time.monotonic() - started:6.0f} s  {rss_mib():6.0f} MiB  {calls['n']} calls",
            flush=True,
        )
    final = rss_mib()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    done = calls["n"] - baseline_calls
    rate = (final - baseline) / args.minutes
    print(
        f"RESULT {baseline:.0f} -> {final:.0f} MiB ({(final / baseline - 1) * 100:+.1f} %, "
        f"{rate:+.1f} MiB/min) over {done} calls in {args.minutes:g} min, "
        f"{calls['errors']} errors"
    )
    if snapshot is not None:
        growth = tracemalloc.take_snapshot().compare_to(snapshot, "traceback")
        total = sum(stat.size_diff for stat in growth)
        print(f"Python heap grew {total / 2**20:+.1f} MiB; largest growth:")
        for stat in growth[:12]:
            print(f"  {stat.size_diff / 2**20:+.2f} MiB in {stat.count_diff:+d} blocks")
            for line in stat.traceback.format()[-6:]:
                print(f"      {line}")


if __name__ == "__main__":
    main()
