"""How long `taskgen build` takes on a large contract: 500 tasks over 10 modules.

Writes a contract (Structs, Enums, nested and optional fields, positional, optional and
keyword-only parameters) into a temporary folder, then times the build end to end, its
layout included (taskgen lays out formatted code itself; no formatter runs):

- in process, through ``taskgen_codegen.generate.build``: the first build (templates compiled, every
  file created), fresh builds into empty folders, and rebuilds where nothing changed, with
  the time split into loading the contract, rendering the files and writing them;
- as a user runs it, ``python -m taskgen build`` in a subprocess (interpreter start-up and
  imports included), into an empty folder and over an up-to-date one.

Run: ``./dev bench-codegen`` (or ``.venv/bin/python bench/codegen.py --tasks 500``).
``--verify`` also checks the output with ``ruff format --check`` and ``mypy --strict``.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from taskgen_codegen.contract import load_contracts
from taskgen_codegen.generate import BuildConfig, build
from taskgen_codegen.generate.build import orphaned_handlers, render_files
from taskgen_codegen.generate.writer import apply

PACKAGE = "big_contracts"

COMMON = '''"""Types every module shares."""

import enum

import msgspec


class Currency(enum.StrEnum):
    """Currencies."""

    EUR = "EUR"
    USD = "USD"
    GBP = "GBP"


class Money(msgspec.Struct, frozen=True):
    """An amount in minor units."""

    amount_cents: int
    currency: Currency = Currency.EUR
'''


def module_source(index: int, tasks: int) -> str:
    """One contract module: 3 Enums, 8 Structs and ``tasks`` tasks."""
    p = f"M{index}"
    lines = [
        f'"""Contract module {index}."""',
        "",
        "import datetime",
        "import enum",
        "import typing",
        "import uuid",
        "",
        "import msgspec",
        "",
        f"from {PACKAGE}.common import Currency, Money",
        "from taskgen import Priority, Retry, task",
        "",
    ]
    for e in range(3):
        lines += [
            "",
            f"class {p}State{e}(enum.Enum):",
            f'    """State kind {e}."""',
            "",
            *(f'    S{k} = "s{k}"' for k in range(4)),
            "",
        ]
    for s in range(8):
        fields = [
            "id: uuid.UUID",
            "name: str",
            f"state: {p}State{s % 3}",
            "amount: Money",
            f"parent: {p}Record{s - 1} | None = None" if s else "parent: None = None",
            "tags: list[str] = []",
            "created: datetime.datetime | None = None",
            f'note: typing.Annotated[str, msgspec.Meta(max_length={40 + s})] = ""',
        ]
        options = ", frozen=True" if s % 2 else ", kw_only=True"
        lines += [
            "",
            f"class {p}Record{s}(msgspec.Struct{options}):",
            f'    """Record {s} of module {index}."""',
            "",
            *(f"    {f}" for f in fields),
            "",
        ]
    for t in range(tasks):
        record = f"{p}Record{t % 8}"
        params = [
            f"record: {record}",
            "count: int",
            "when: datetime.datetime | None = None",
            f"state: {p}State{t % 3} = {p}State{t % 3}.S1",
            "*",
            "idempotency_key: str",
            "currency: Currency = Currency.EUR",
            "extra: dict[str, int] | None = None",
        ]
        returns = [record, f"list[{record}]", "None", "dict[str, Money]", "bool"][t % 5]
        options = [
            'queue="q{i}"',
            'queue="q{i}", retry=Retry(attempts=5, backoff=2.0), timeout=30',
            'queue="q{i}", priority=Priority.HIGH',
        ][t % 3].format(i=index)
        lines += [
            "",
            f"@task({options})",
            f"def task_{t:03d}_process_record({', '.join(params)}) -> {returns}:",
            f'    """Task {t} of module {index}."""',
            "    ...",
            "",
        ]
    return "\n".join(lines)


def write_contract(folder: Path, tasks: int, modules: int) -> Path:
    """The contract package under ``folder``: ``tasks`` tasks spread over ``modules``."""
    package = folder / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A large contract for the codegen benchmark."""\n')
    (package / "common.py").write_text(COMMON)
    per_module = [tasks // modules + (1 if i < tasks % modules else 0) for i in range(modules)]
    for index, count in enumerate(per_module):
        (package / f"module_{index:02d}.py").write_text(module_source(index, count))
    return package


def config(root: Path, contracts: Path) -> BuildConfig:
    return BuildConfig(
        contracts=str(contracts),
        client_package="big_client",
        client_out="big_client",
        worker_out="big_worker",
        root=str(root),
    )


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def phases(settings: BuildConfig) -> dict[str, float]:
    """One build, timed by phase: load the contract, render the files, write them."""
    start = time.perf_counter()
    model = load_contracts(settings.contracts_path)
    loaded = time.perf_counter()
    files = render_files(model, settings)
    rendered = time.perf_counter()
    apply(files, orphans=orphaned_handlers(model, settings))
    written = time.perf_counter()
    return {
        "load": loaded - start,
        "render": rendered - loaded,
        "write": written - rendered,
        "total": written - start,
        "files": len(files),
        "lines": sum(f.content.count("\n") for f in files),
    }


def in_process(contracts: Path, scratch: Path, repeat: int) -> dict[str, float]:
    """Seconds for the first build (templates compiled), then medians of fresh builds into
    empty folders (by phase) and of rebuilds with nothing to do."""
    first = timed(lambda: build(config(scratch / "first", contracts)))
    runs = [phases(config(scratch / f"fresh{i}", contracts)) for i in range(repeat)]
    figures = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    figures["first"] = first
    figures["unchanged"] = statistics.median(
        timed(lambda: build(config(scratch / "fresh0", contracts))) for _ in range(repeat)
    )
    return figures


def command_line(contracts: Path, scratch: Path, repeat: int) -> dict[str, float]:
    """Seconds for ``python -m taskgen build`` into an empty folder and over a built one."""

    def run(root: Path) -> None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "taskgen",
                "build",
                str(contracts),
                "--root",
                str(root),
                "--client-package",
                "big_client",
                "--client-out",
                "big_client",
                "--worker-out",
                "big_worker",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    fresh = [timed(functools.partial(run, scratch / f"cli{i}")) for i in range(repeat)]
    unchanged = [timed(lambda: run(scratch / "cli0")) for _ in range(repeat)]
    return {"fresh": statistics.median(fresh), "unchanged": statistics.median(unchanged)}


def verify(scratch: Path) -> None:
    """The output is what ruff format would write, and passes mypy --strict."""
    out = scratch / "first"
    checks = {
        "ruff format": [sys.executable, "-m", "ruff", "format", "--isolated", "--check", "."],
        "mypy --strict": [
            *(sys.executable, "-m", "mypy", "--config-file", "", "--strict"),
            *("--cache-dir", str(scratch / "mypy-cache"), "-p", "big_client", "-p", "big_worker"),
        ],
    }
    for name, command in checks.items():
        result = subprocess.run(
            command,
            cwd=out,
            env={**os.environ, "MYPYPATH": str(out / "big_client")},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            sys.exit(f"{name} fails on the generated code:\n{result.stdout}{result.stderr}")
        print(f"  verified, {name}: {(result.stdout or result.stderr).strip().splitlines()[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--modules", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--verify", action="store_true", help="check the output with ruff format and mypy"
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="taskgen-codegen-bench-"))
    try:
        contracts = write_contract(scratch / "src", args.tasks, args.modules)
        source_lines = sum(len(p.read_text().splitlines()) for p in contracts.glob("*.py"))
        print(
            f"taskgen build: {args.tasks} tasks in {args.modules} modules "
            f"({source_lines} contract lines); Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs, median of {args.repeat}"
        )
        inner = in_process(contracts, scratch / "out", args.repeat)
        print(
            f"  generated            {inner['files']:.0f} files, {inner['lines']:.0f} lines\n"
            f"  in process, first    {inner['first']:.3f} s  (templates compiled)\n"
            f"  in process, fresh    {inner['total']:.3f} s  "
            f"(load {inner['load']:.3f} + render {inner['render']:.3f} "
            f"+ write {inner['write']:.3f})\n"
            f"  in process, no-op    {inner['unchanged']:.3f} s  (every file up to date)"
        )
        cli = command_line(contracts, scratch / "out", args.repeat)
        print(
            f"  CLI, fresh           {cli['fresh']:.3f} s  (python -m taskgen build)\n"
            f"  CLI, no-op           {cli['unchanged']:.3f} s"
        )
        if args.verify:
            verify(scratch / "out")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
