"""Rewrite the measured section of ``docs/benchmarks.md`` from ``make bench``'s JSON files.

Reads ``bench/pipeline.py``'s and ``bench/load.py``'s output (same run), and replaces what
lies between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` with the machine, the
versions, the command, the tables and each issue-22 target's measured ratio.

    .venv/bin/python bench/report.py PIPELINE_JSON LOAD_JSON [--doc docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import sys
from pathlib import Path

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
PRODUCTS = {"vhs": "vhs predict", "leukemia": "leukemia predict"}


def versions() -> str:
    import django
    import torch

    python = platform.python_version()
    return f"Python {python}, Django {django.__version__}, torch {torch.__version__}"


def row(rows: list[dict], target: str, endpoint: str, concurrency: int) -> dict | None:
    for candidate in rows:
        if (candidate["target"], candidate["endpoint"], candidate["concurrency"]) == (
            target,
            endpoint,
            concurrency,
        ):
            return candidate
    return None


def _batches(groups: dict | None) -> str:
    return ", ".join(f"{group} {size}" for group, size in (groups or {}).items()) or "—"


def peer_lines(rows: list[dict], product: str, endpoint: str, limit: dict) -> list[str]:
    """The peer targets: LitServe's own validity, then each mode against it."""
    lines = []
    peer_lone, peer_busy = row(rows, "litserve", endpoint, 1), row(rows, "litserve", endpoint, 32)
    if peer_lone is None or peer_busy is None:
        return lines
    fastest = limit["fastest one-thread p50 ms"]
    lines.append(
        f"| {product} | LitServe c=1 p50 / fastest in-process (else the comparison is void) | "
        f"<= 1.2 | **{peer_lone['p50_ms'] / fastest:.2f}** |"
    )
    for target, goal in (("embedded", 1.0), ("distributed", 0.8)):
        for level, peer in ((1, peer_lone), (32, peer_busy)):
            mine = row(rows, target, endpoint, level)
            if mine is None or (target == "distributed" and level == 1):
                continue
            lines.append(
                f"| {product} | {target} c={level} req/s / LitServe's | >= {goal} | "
                f"**{mine['req_per_s'] / peer['req_per_s']:.2f}** "
                f"({mine['req_per_s']} / {peer['req_per_s']}) |"
            )
            if target == "embedded":
                lines.append(
                    f"| {product} | embedded c={level} p99 / LitServe's | <= 1.2 | "
                    f"**{mine['p99_ms'] / peer['p99_ms']:.2f}** |"
                )
    return lines


def render(pipeline: dict, load: dict) -> str:
    rows = load["rows"]
    today = datetime.date.today().isoformat()
    lines = [
        f"Measured {today} by `make bench` on {pipeline['cores']} cores "
        f"({platform.machine()}, no GPU); {versions()}. The load generator, the servers and "
        "the services share those cores.",
        "",
        "### In-process limit (`bench/pipeline.py`)",
        "",
    ]
    for product, figures in pipeline["products"].items():
        lines += [f"**{product}**", "", "| measure | value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in figures.items()]
        lines.append("")
    lines += [
        "### Over HTTP (`bench/load.py`)",
        "",
        "| target | endpoint | concurrency | req/s | p50 ms | p95 ms | p99 ms | server ms "
        "(mean) | items per forward pass | statuses | billing errors | load generator CPU "
        "(one core) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['endpoint']} | {r['concurrency']} | {r['req_per_s']} | "
            f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r.get('server_ms')} | "
            f"{_batches(r.get('items_per_forward_pass'))} | {r['statuses']} | "
            f"{r['billing_errors']} | {r['load_generator_cpu_share']:.0%} |"
        )
    lines += [
        "",
        "![Throughput and latency against concurrency](benchmarks/load.png)",
        "",
        "### Targets (issue 22), this run",
        "",
        "| product | target | goal | measured |",
        "|---|---|---|---|",
    ]
    for product, endpoint in PRODUCTS.items():
        limit = pipeline["products"].get(product)
        if limit is None:
            continue
        for target in ("embedded", "distributed"):
            lone, busy = row(rows, target, endpoint, 1), row(rows, target, endpoint, 32)
            if lone:
                fastest = limit["fastest one-thread p50 ms"]
                ratio = lone["p50_ms"] / fastest
                lines.append(
                    f"| {product} | {target} c=1 p50 / fastest in-process | <= 1.25 | "
                    f"**{ratio:.2f}** ({lone['p50_ms']} / {fastest} ms) |"
                )
            if busy:
                ratio = busy["req_per_s"] / limit["best saturated req/s"]
                lines.append(
                    f"| {product} | {target} c=32 req/s / best in-process | >= 0.8 | "
                    f"**{ratio:.2f}** ({busy['req_per_s']} / {limit['best saturated req/s']}) |"
                )
        lines += peer_lines(rows, product, endpoint, limit)
        embedded, distributed = (row(rows, t, endpoint, 1) for t in ("embedded", "distributed"))
        if embedded and distributed:
            extra = distributed["p50_ms"] - embedded["p50_ms"]
            lines.append(
                f"| {product} | distributed c=1 p50 over embedded | <= 15 ms | "
                f"**{extra:+.1f} ms** |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pipeline", type=Path)
    parser.add_argument("load", type=Path)
    parser.add_argument("--doc", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    section = render(json.loads(args.pipeline.read_text()), json.loads(args.load.read_text()))
    text = args.doc.read_text()
    if START not in text:
        sys.exit(f"{args.doc} has no {START} marker")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    args.doc.write_text(pattern.sub(lambda _: f"{START}\n{section}\n{END}", text))
    print(section)


if __name__ == "__main__":
    main()
