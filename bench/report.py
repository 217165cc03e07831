"""The run's one Markdown table, and the description of the machine it ran on."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.libraries import Library
from bench.workloads import Sizes

MB = 1024 * 1024
Figures = dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure of one workload, lower is better."""

    label: str
    workload: str
    value: Callable[[Figures], float]
    cell: Callable[[Figures], str]


def _seconds(key: str) -> Callable[[Figures], str]:
    return lambda f: f"{f[key]:.2f} s"


def _rate(f: Figures) -> str:
    return f"{f['seconds']:.2f} s ({f['per_second']:,.0f}/s)"


def _ms(key: str, wanted: int) -> Callable[[Figures], str]:
    def cell(f: Figures) -> str:
        text = f"{f[key]:,.2f} ms" if f[key] < 100 else f"{f[key]:,.0f} ms"
        return text if f["samples"] >= wanted else f"{text} (n={f['samples']})"

    return cell


def _mb(key: str) -> Callable[[Figures], str]:
    return lambda f: f"{f[key] / MB:,.1f} MB"


def _redis_mb(stage: str) -> Callable[[Figures], str]:
    # The key count says how many results were still within their TTL when measured.
    return lambda f: f"{f['redis_' + stage] / MB:,.1f} MB ({f['keys_' + stage]:,} keys)"


def rows(sizes: Sizes) -> list[Row]:
    """The table's rows for a run of these sizes."""
    n, m = f"{sizes.tasks:,}", f"{sizes.memory_tasks:,}"
    ideal = -(-sizes.sleeps // 32) * sizes.sleep_seconds
    sleep = f"sleep {sizes.sleeps:,} x {sizes.sleep_seconds * 1000:.0f} ms, 1 process"

    def row(label: str, workload: str, key: str, cell: Callable[[Figures], str]) -> Row:
        return Row(label, workload, lambda f: float(f[key]), cell)

    return [
        row(f"enqueue {n}: published way¹", "enqueue_published", "seconds", _seconds("seconds")),
        row(
            f"enqueue {n}: one by one, 32 at a time", "enqueue_each", "seconds", _seconds("seconds")
        ),
        row(f"drain {n}: 1 worker process", "drain_1", "seconds", _rate),
        row(f"drain {n}: 2 worker processes", "drain_2", "seconds", _rate),
        row("CPU in Redis, drain 1 process³", "drain_1", "server_cpu", _seconds("server_cpu")),
        row("CPU in the worker, drain 1 process³", "drain_1", "worker_cpu", _seconds("worker_cpu")),
        row("round trip p50", "roundtrip", "p50_ms", _ms("p50_ms", sizes.roundtrips)),
        row("round trip p99", "roundtrip", "p99_ms", _ms("p99_ms", sizes.roundtrips)),
        row(f"{sleep} (ideal {ideal:.2f} s)", "sleep", "seconds", _seconds("seconds")),
        row(f"worker RSS after {m} tasks", "memory", "rss_drained", _mb("rss_drained")),
        row("worker RSS once results expired", "memory", "rss_expired", _mb("rss_expired")),
        row(f"Redis used_memory after {m} tasks²", "memory", "redis_drained", _redis_mb("drained")),
        row("Redis used_memory, results expired", "memory", "redis_expired", _redis_mb("expired")),
    ]


def table(results: dict[str, dict[str, Figures]], libraries: list[Library], sizes: Sizes) -> str:
    """The Markdown table: taskgen beside each library, then taskgen's two ratios."""
    names = [lib.name for lib in libraries]
    peers = [lib.name for lib in libraries if lib.peer]
    header = ["workload", *names, "fastest peer ÷ taskgen", "bare ÷ taskgen"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows(sizes):
        if not any(row.workload in figures for figures in results.values()):
            continue
        values: dict[str, float] = {}
        cells = []
        for name in names:
            figures = results.get(name, {}).get(row.workload)
            cells.append(_cell(row, figures, values, name))
        mine = values.get("taskgen")
        best = min((values[p] for p in peers if p in values), default=None)
        cells.append(_ratio(best, mine))
        cells.append(_ratio(values.get("bare"), mine))
        lines.append("| " + " | ".join([row.label, *cells]) + " |")
    return "\n".join(lines)


def _cell(row: Row, figures: Figures | None, values: dict[str, float], name: str) -> str:
    if figures is None:
        return "—"
    if "error" in figures:
        reason = " ".join(str(figures["error"]).split())
        reason = reason if len(reason) <= 90 else reason[:87] + "..."
        return "failed: " + reason.replace("|", "/")
    if "skipped" in figures:
        return "—"
    values[name] = row.value(figures)
    return row.cell(figures)


def _ratio(other: float | None, mine: float | None) -> str:
    """How many times lower taskgen's figure is (above 1: taskgen does better)."""
    if other is None or mine is None or mine <= 0:
        return "—"
    return f"{other / mine:.2f}x"


def footnotes(sizes: Sizes) -> str:
    """What the marked rows mean, for a run of these sizes."""
    return (
        "¹ taskgen, streaq: one `enqueue_many` call; bare loop: one pipeline of XADDs; "
        "saq, taskiq, arq: one by one, 32 at a time (their published benchmarks).  \n"
        "² measured 1 s after the last task finished, with the number of keys then in Redis: a "
        f"library slower to drain than the {sizes.memory_ttl} s result TTL has already seen most "
        "results expire; an emptied server uses about 2.5 MB (the JSON has each baseline).  \n"
        "³ CPU time from starting the worker to the last task finishing, start-up (interpreter, "
        "imports, connecting) included; Redis's from its INFO, the worker's from /proc.  \n"
        "Ratios: the fastest peer's (or the bare loop's) figure divided by taskgen's; above 1 "
        "taskgen is faster (or smaller)."
    )


def machine(server_name: str, server_version: str) -> dict[str, str]:
    """What the figures were measured on."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "memory": _memory(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "server": f"{server_name.split(' ')[0]} {server_version}",
    }


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kib = int(info.readline().split()[1])
        return f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"
