"""The ``overhead`` workload: what metrics, and OpenTelemetry merely installed, cost taskgen's
drain, as figures.

Each round drains the same no-op tasks once per configuration, in alternating order, with the
taskgen worker command as the drain workload starts it:

- ``no OpenTelemetry``: OpenTelemetry hidden, as if not installed (``python -m
  bench.without_otel``, which runs the same command);
- ``plain``: as the drain workload (OpenTelemetry is installed in the dev venv, and no tracer
  provider is set: it costs what the bare install costs), against ``no OpenTelemetry``;
- ``metrics``: ``plain`` with ``--metrics-port`` (Prometheus counters and durations, served),
  against ``plain``.

Besides the drain rate (from starting the command, start-up included, as the drain workload;
and steady, from the first task finished to the last) it takes the worker's CPU time from the
kernel's scheduler (``/proc/<pid>/task/*/schedstat``, nanoseconds) when the first task has
finished and again after the last: the CPU per task in between is much steadier than a rate on
a shared machine. A configuration's cost is its figure against its reference's run of the same
round, the median over the rounds.
"""

from __future__ import annotations

import re
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import procs
from bench.peers.probe import COUNT_KEY, FIRST_KEY, LAST_KEY
from bench.procs import BenchError

if TYPE_CHECKING:
    from bench.libraries import Library
    from bench.workloads import Bench


@dataclass(frozen=True)
class Configuration:
    """One way of running the worker command, and the one its cost is measured against."""

    arguments: tuple[str, ...] = ()
    #: Run with OpenTelemetry hidden, as if not installed.
    hidden: bool = False
    against: str | None = None


CONFIGURATIONS = {
    "no OpenTelemetry": Configuration(hidden=True),
    "plain": Configuration(against="no OpenTelemetry"),
    "metrics": Configuration(("--metrics-port", "{port}"), against="plain"),
}

#: A drain whose count has not moved for this long has stalled.
STALL_SECONDS = 60.0

ROOT = Path(__file__).resolve().parent.parent

#: Seconds between the probe's flushes under valgrind: few enough that their instructions,
#: which depend on the wall-clock time a drain takes, do not blur the per-task count.
PROBE_FLUSH_EVERY = 1.0


@dataclass(frozen=True)
class Drained:
    """One drain of one configuration."""

    per_second: float
    steady_per_second: float
    #: Worker CPU per task between the first task finished and the last, in microseconds.
    cpu_per_task_us: float
    #: Worker CPU from starting the command to the first task finished, in seconds.
    startup_cpu: float
    startup: float


def measure(bench: Bench, lib: Library, rounds: int) -> dict[str, Any]:
    """``rounds`` rounds of every configuration; the figures and each one's cost."""
    if lib.name != "taskgen":
        return {"skipped": "taskgen only"}
    n = bench.sizes.tasks
    runs: dict[str, list[Drained]] = {name: [] for name in CONFIGURATIONS}
    for round_ in range(rounds):
        order = list(CONFIGURATIONS) if round_ % 2 == 0 else list(reversed(CONFIGURATIONS))
        for name in order:
            runs[name].append(_drain(bench, lib, name, n))
    figures: dict[str, Any] = {"n": n, "rounds": rounds, "configurations": {}}
    for name, drained in runs.items():
        figures["configurations"][name] = {
            "against": CONFIGURATIONS[name].against,
            "per_second": _median(d.per_second for d in drained),
            "steady_per_second": _median(d.steady_per_second for d in drained),
            "cpu_per_task_us": _median(d.cpu_per_task_us for d in drained),
            "startup_cpu": _median(d.startup_cpu for d in drained),
            "startup": _median(d.startup for d in drained),
            **_costs(drained, runs.get(CONFIGURATIONS[name].against or "", [])),
            "runs": [vars(d) for d in drained],
        }
    return figures


def _costs(drained: list[Drained], reference: list[Drained]) -> dict[str, float]:
    """Each figure against the reference's run of the same round (which drifts less than a
    run of another moment), the median over the rounds; above 0 it costs more."""
    if not reference:
        return {}
    pairs = list(zip(drained, reference, strict=True))
    return {
        "cpu_cost": _median(d.cpu_per_task_us / r.cpu_per_task_us - 1 for d, r in pairs),
        "rate_cost": _median(r.per_second / d.per_second - 1 for d, r in pairs),
        "steady_rate_cost": _median(
            r.steady_per_second / d.steady_per_second - 1 for d, r in pairs
        ),
        "startup_cpu_cost": _median(d.startup_cpu - r.startup_cpu for d, r in pairs),
    }


def _drain(bench: Bench, lib: Library, name: str, n: int) -> Drained:
    """Enqueue ``n`` no-op tasks, start the worker, and time and meter it to the last task."""
    _enqueue(bench, lib, n)
    started = time.time()
    worker = procs.start(
        _command(bench, lib, name), env=bench._vars(None), cwd=ROOT, log=bench._worker_log(lib)
    )
    try:
        return _meter(bench, worker, n, started)
    finally:
        procs.stop_all()


def _enqueue(bench: Bench, lib: Library, n: int) -> None:
    bench.server.flush()
    bench._client(
        lib, "enqueue", "--n", str(n), "--mode", lib.published_enqueue, "--seconds", "0",
        timeout=60 + n / 100,
    )  # fmt: skip


def _command(bench: Bench, lib: Library, name: str) -> list[str]:
    """The worker command of a configuration (``{port}``: a free port)."""
    configuration = CONFIGURATIONS[name]
    env = bench._env(lib)
    argv = lib.worker(env.bin, False)
    if configuration.hidden:
        argv = [str(env.python), "-m", "bench.without_otel", *argv[1:]]
    port = ""
    if "{port}" in configuration.arguments:
        from tests.redis_server import free_port

        port = str(free_port())
    return argv + [a.replace("{port}", port) for a in configuration.arguments]


def _meter(
    bench: Bench, worker: procs.Running, n: int, started: float, stall: float = STALL_SECONDS
) -> Drained:
    client = bench.server.client
    first_count = 0
    first_cpu = 0.0
    seen, moved = 0, time.monotonic()
    while True:
        count = int(client.get(COUNT_KEY) or 0)
        if count and not first_count:
            first_cpu, first_count = procs.run_seconds(worker.pid), count
        if count >= n:
            last_cpu = procs.run_seconds(worker.pid)
            break
        now = time.monotonic()
        if count != seen:
            seen, moved = count, now
        elif now - moved > stall:
            raise BenchError(f"stalled at {count:,}/{n:,} tasks for {stall:.0f} s")
        failure = worker.failure()
        if failure is not None:
            raise BenchError(f"worker {failure} (at {count:,} tasks)")
        time.sleep(0.005)
    if count <= first_count:
        raise BenchError("the drain ended before a second count: enqueue more tasks")
    first = min(float(client.get(k) or 0) for k in client.scan_iter(FIRST_KEY + "*"))
    last = max(float(client.get(k) or 0) for k in client.scan_iter(LAST_KEY + "*"))
    return Drained(
        per_second=n / (last - started),
        steady_per_second=(n - 1) / (last - first),
        cpu_per_task_us=(last_cpu - first_cpu) / (count - first_count) * 1e6,
        startup_cpu=first_cpu,
        startup=first - started,
    )


def instructions(bench: Bench, lib: Library, rounds: int) -> dict[str, Any]:
    """The worker's instructions per task in each configuration, counted by valgrind: the
    slope between a small and a large drain, so start-up and shutdown cancel out. A count of
    instructions does not depend on what else the machine runs, as a time does."""
    if lib.name != "taskgen":
        return {"skipped": "taskgen only"}
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"skipped": "valgrind is not on PATH"}
    small, large = max(200, bench.sizes.tasks // 5), max(800, bench.sizes.tasks * 4 // 5)
    slopes: dict[str, list[float]] = {name: [] for name in CONFIGURATIONS}
    for round_ in range(rounds):
        order = list(CONFIGURATIONS) if round_ % 2 == 0 else list(reversed(CONFIGURATIONS))
        for name in order:
            few, many = (_instructions(bench, lib, name, n, valgrind) for n in (small, large))
            slopes[name].append((many - few) / (large - small))
    figures: dict[str, Any] = {"small": small, "large": large, "rounds": rounds}
    figures["configurations"] = {
        name: {
            "against": CONFIGURATIONS[name].against,
            "instructions_per_task": _median(counted),
            **(
                {
                    "instruction_cost": _median(
                        c / r - 1 for c, r in zip(counted, slopes[against], strict=True)
                    )
                }
                if (against := CONFIGURATIONS[name].against)
                else {}
            ),
            "runs": counted,
        }
        for name, counted in slopes.items()
    }
    return figures


def _instructions(bench: Bench, lib: Library, name: str, n: int, valgrind: str) -> int:
    """The instructions one worker process ran to drain ``n`` tasks (start to exit)."""
    _enqueue(bench, lib, n)
    env = bench._env(lib)
    argv = _command(bench, lib, name)
    if argv[0] != str(env.python):
        argv = [str(env.python), "-m", "taskgen", *argv[1:]]  # valgrind runs no script
    report = bench.logs / f"valgrind-{name.replace(' ', '-')}-{n}.log"
    counting = [valgrind, "--tool=cachegrind", "--cache-sim=no"]
    counting += ["--cachegrind-out-file=/dev/null", f"--log-file={report}"]
    variables = {**bench._vars(None), "BENCH_PROBE_FLUSH_EVERY": str(PROBE_FLUSH_EVERY)}
    worker = procs.start([*counting, *argv], env=variables, cwd=ROOT, log=bench._worker_log(lib))
    try:
        _meter(bench, worker, n, time.time(), stall=600.0)
    finally:
        procs.stop(worker.process, grace=300.0)  # a stop takes a while under valgrind
    found = re.search(r"I\s+refs:\s+([\d,]+)", report.read_text())
    if found is None:
        raise BenchError(f"valgrind wrote no instruction count: {procs.log_tail(report)}")
    return int(found.group(1).replace(",", ""))


def table(figures: dict[str, Any]) -> str:
    """The workload's own Markdown table (the main table compares libraries)."""
    if "configurations" not in figures:
        return ""
    lines = [
        f"Overhead: drain {figures['n']:,} no-op tasks, 1 worker process, "
        f"{figures['rounds']} rounds, medians; each cost against the reference's run of the "
        "same round",
        "",
        "| configuration | drain/s from start | drain/s steady | worker CPU per task | "
        "start-up CPU | against | cost: CPU per task | cost: drain/s from start | "
        "cost: drain/s steady | cost: start-up CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in figures["configurations"].items():
        cells = [
            name,
            f"{f['per_second']:,.0f}",
            f"{f['steady_per_second']:,.0f}",
            f"{f['cpu_per_task_us']:.2f} µs",
            f"{f['startup_cpu'] * 1000:.0f} ms",
            f["against"] or "—",
        ]
        if f["against"]:
            cells += [_pct(f["cpu_cost"]), _pct(f["rate_cost"]), _pct(f["steady_rate_cost"])]
            cells.append(f"{f['startup_cpu_cost'] * 1000:+.0f} ms")
        else:
            cells += ["—"] * 4
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _median(values: Any) -> float:
    return float(statistics.median(list(values)))


def _pct(value: float) -> str:
    return f"{value * 100:+.1f}%"


def instructions_table(figures: dict[str, Any]) -> str:
    """The valgrind counts' Markdown table."""
    if "configurations" not in figures:
        return ""
    lines = [
        f"Overhead in instructions: the worker's instructions per task under valgrind (the "
        f"slope between draining {figures['small']:,} and {figures['large']:,} tasks), "
        f"{figures['rounds']} rounds, medians",
        "",
        "| configuration | instructions per task | against | cost |",
        "|---|---|---|---|",
    ]
    for name, f in figures["configurations"].items():
        cost = _pct(f["instruction_cost"]) if f["against"] else "—"
        lines.append(
            f"| {name} | {f['instructions_per_task']:,.0f} | {f['against'] or '—'} | {cost} |"
        )
    return "\n".join(lines)
