"""``taskgen worker``: import the user's Worker and run it."""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from taskgen.runtime import HandlerMismatch, Worker
from taskgen.runtime.faults import EvictingPolicy
from taskgen.runtime.supervisor import RECYCLE, supervise
from taskgen.runtime.tls import TlsRefused


def load_worker(target: str) -> Worker:
    """The Worker at ``module:attribute``; the current folder is importable, as with uvicorn."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise typer.BadParameter(f"{target!r}: expected module:attribute, e.g. worker.main:worker")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except HandlerMismatch as mismatch:
        typer.secho(f"taskgen worker: cannot start {target}", fg="red", err=True)
        typer.echo(str(mismatch), err=True)
        raise typer.Exit(2) from None
    except ModuleNotFoundError as missing:
        typer.secho(f"taskgen worker: cannot start {target}: {missing}", fg="red", err=True)
        typer.echo(_missing_module_hint(module_name, missing.name or "?"), err=True)
        raise typer.Exit(2) from None
    found = getattr(module, attribute, None)
    if not isinstance(found, Worker):
        raise typer.BadParameter(f"{target!r} is {type(found).__name__}, not a taskgen Worker")
    return found


def _missing_module_hint(module_name: str, missing: str) -> str:
    """What to do when importing the worker fails for want of a module."""
    top = missing.partition(".")[0]
    if module_name.partition(".")[0] == top:
        return f"run taskgen worker from the folder that holds the {top}/ package ({os.getcwd()})"
    return (
        f"{module_name} imports {top!r}; if that is the generated client package, install it "
        f"(pip install -e <client-out>) or put its folder on PYTHONPATH, "
        f"e.g. PYTHONPATH=build/{top}:build taskgen worker {module_name}:worker"
    )


def run_worker(
    target: str,
    *,
    burst: bool,
    concurrency: int | None,
    redis_url: str | None,
    log_level: str,
    processes: int = 1,
    max_tasks: int | None = None,
    max_memory: int | None = None,
    supervised: bool = False,
) -> int:
    """Configure logging, apply command-line overrides, and serve; returns the exit code.

    With ``max_tasks`` or ``max_memory`` (MiB) a supervisor runs the process even alone, to
    start the next one each time a process has run its share and exited with ``RECYCLE``."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    recycles = max_tasks is not None or max_memory is not None
    if processes > 1 or (recycles and not supervised):
        args = [target, "--log-level", log_level, *(["--burst"] if burst else [])]
        if max_tasks is not None:
            args += ["--max-tasks-per-process", str(max_tasks)]
        if max_memory is not None:
            args += ["--max-memory-per-process", str(max_memory)]
        if recycles:
            args.append("--supervised")
        if concurrency is not None:
            args += ["--concurrency", str(concurrency)]
        if redis_url is not None:
            args += ["--redis-url", redis_url]
        return supervise(args, processes)
    worker = load_worker(target)
    if concurrency is not None:
        worker.concurrency = concurrency
    if redis_url is not None:
        worker.redis_url = redis_url
    if max_tasks is not None:
        worker.max_tasks = max_tasks
    if max_memory is not None:
        worker.max_memory_mb = max_memory
    try:
        worker.main(burst=burst)
    except (EvictingPolicy, TlsRefused) as refused:
        typer.secho(f"taskgen worker: {refused}", fg="red", err=True)
        return 2
    return RECYCLE if worker.spent else 0
