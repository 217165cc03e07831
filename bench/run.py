"""``./dev bench``: every workload for every library against one server, one table.

./dev bench [--only taskgen,saq] [--quick] [--skip-install] [--workloads drain_1,memory]
./dev bench --only taskgen --workloads drain_1,drain_2 --taskgen-args='--metrics-port {port}'
./dev bench --only taskgen --workloads enqueue_published,drain_1 --signing
./dev bench --soak SECONDS    (lost results under load and killed connections: bench/soak.py)
./dev bench --flows           (chain steps and chord members against plain tasks: bench/flows.py)

./dev bench --only taskgen --workloads overhead,overhead_valgrind   (what metrics and
    OpenTelemetry cost: bench/overhead.py; overhead_valgrind runs only when named)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script (``python bench/run.py``): make ``bench`` and ``tests`` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import envs, overhead, procs, report, server
from bench.libraries import BY_NAME, LIBRARIES, Library
from bench.procs import BenchError
from bench.workloads import FULL, QUICK, Bench

RESULTS = Path(__file__).resolve().parent / "results"

#: In running order; each one runs every library before the next begins, so the figures of
#: one row are taken close together in time.
WORKLOADS = [
    "enqueue_published",
    "enqueue_each",
    "drain_1",
    "drain_2",
    "roundtrip",
    "sleep",
    "memory",
    "overhead",
    "overhead_valgrind",
]
#: Run only when named: slow (valgrind).
OPT_IN = {"overhead_valgrind"}


def main() -> None:
    options = _parse()
    if options.flows:
        from bench import flows

        sys.argv = [sys.argv[0]]
        flows.main()
        return
    if options.soak:
        from bench import soak

        with server.started() as running:
            sys.exit(soak.run(running.url, options.soak))
    libraries = [BY_NAME[name] for name in options.only]
    if options.signing:
        # Read by taskgen's bench client and by `taskgen worker`: both sides sign and check.
        os.environ["TASKGEN_SIGNING_KEY"] = secrets.token_hex(32)
    sizes = QUICK if options.quick else FULL
    stamp = datetime.datetime.now(datetime.UTC)
    logs = RESULTS / f"logs-{stamp:%Y-%m-%dT%H%M%S}"
    logs.mkdir(parents=True, exist_ok=True)
    # A SIGTERM ends the run like Ctrl-C: through the finally blocks that stop every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    ready = {"taskgen": envs.taskgen_env()}
    for name in sorted({lib.env for lib in libraries} - {"taskgen"}):
        _say(f"virtualenv {name}: {'checking' if options.skip_install else 'preparing'}")
        ready[name] = envs.prepare(name, install=not options.skip_install, log=logs / "install.log")
        if ready[name].error:
            _say(f"virtualenv {name}: {ready[name].error}")

    results: dict[str, dict[str, Any]] = {lib.name: {} for lib in libraries}
    with server.started() as running:
        _say(f"server: {running.name} {running.version} at {running.url}")
        bench = Bench(running, sizes, ready, logs, tuple(options.taskgen_args.split()))
        try:
            for workload in options.workloads:
                for lib in libraries:
                    results[lib.name][workload] = _measure(bench, workload, lib)
        finally:
            procs.stop_all()
        described = report.machine(running.name, running.version)

    table = report.table(results, libraries, sizes)
    path = RESULTS / f"{stamp:%Y-%m-%dT%H%M%S}.json"
    path.write_text(
        json.dumps(
            {
                "date": stamp.isoformat(timespec="seconds"),
                "machine": described,
                "sizes": vars(sizes),
                "quick": options.quick,
                "libraries": {
                    lib.name: {
                        "config": lib.config,
                        "env": lib.env,
                        "versions": ready[lib.env].versions,
                    }
                    for lib in libraries
                },
                "results": results,
                "table": table,
            },
            indent=2,
        )
    )
    print(table)
    print()
    print(report.footnotes(sizes))
    taskgen = results.get("taskgen", {})
    for cost in (
        overhead.table(taskgen.get("overhead", {})),
        overhead.instructions_table(taskgen.get("overhead_valgrind", {})),
    ):
        if cost:
            print()
            print(cost)
    print()
    print(", ".join(f"{k}: {v}" for k, v in described.items()) + f"; {stamp:%Y-%m-%d %H:%M} UTC")
    _say(f"results: {path.relative_to(RESULTS.parent.parent)}; logs: {logs.name}/")


def _measure(bench: Bench, workload: str, lib: Library) -> dict[str, Any]:
    """One library through one workload; a failure becomes the cell's text, not the run's end."""
    began = time.monotonic()
    try:
        figures: dict[str, Any] = getattr(bench, workload)(lib)
    except BenchError as exc:
        figures = {"error": str(exc)}
    except Exception as exc:
        figures = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        procs.stop_all()
    shown = figures.get("error") or {k: _short(v) for k, v in figures.items()}
    _say(f"{workload} {lib.name} ({time.monotonic() - began:.0f} s): {shown}")
    return figures


def _short(value: Any) -> Any:
    if isinstance(value, dict):
        return "{...}"  # in the JSON and the tables
    return round(value, 4) if isinstance(value, float) else value


def _say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./dev bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        type=_names(BY_NAME, "library"),
        default=[lib.name for lib in LIBRARIES],
        help="comma-separated libraries (default: all): " + ",".join(BY_NAME),
    )
    parser.add_argument(
        "--workloads",
        type=_names(WORKLOADS, "workload"),
        default=[w for w in WORKLOADS if w not in OPT_IN],
        help="comma-separated workloads (default: all but "
        + ",".join(sorted(OPT_IN))
        + "): "
        + ",".join(WORKLOADS),
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--skip-install", action="store_true", help="use the peers' virtualenvs as they are"
    )
    parser.add_argument(
        "--taskgen-args",
        default="",
        metavar="ARGS",
        help="more arguments for each taskgen worker process, e.g. "
        "'--metrics-port {port}' ({port}: a free port per process)",
    )
    parser.add_argument(
        "--signing",
        action="store_true",
        help="taskgen's client and workers sign and check every message (one random key)",
    )
    parser.add_argument(
        "--flows",
        action="store_true",
        help="instead of the table, a 1,000-step chain and a 10,000-member chord against "
        "plain tasks (bench/flows.py; run it directly for its own options)",
    )
    parser.add_argument(
        "--soak",
        type=float,
        metavar="SECONDS",
        help="instead of the table, soak taskgen's results for this long (bench/soak.py)",
    )
    return parser.parse_args()


def _names(known: Any, what: str) -> Any:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what}(s): {', '.join(unknown)}")
        # Keep the canonical order, whatever order they were given in.
        return [n for n in known if n in names]

    return parse


if __name__ == "__main__":
    main()
