"""``taskgen worker``: import the user's Worker and run it."""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from taskgen.runtime import HandlerMismatch, Worker
from taskgen.runtime.supervisor import supervise


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
    found = getattr(module, attribute, None)
    if not isinstance(found, Worker):
        raise typer.BadParameter(f"{target!r} is {type(found).__name__}, not a taskgen Worker")
    return found


def run_worker(
    target: str,
    *,
    burst: bool,
    concurrency: int | None,
    redis_url: str | None,
    log_level: str,
    processes: int = 1,
) -> int:
    """Configure logging, apply command-line overrides, and serve; returns the exit code."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if processes > 1:
        args = [target, "--log-level", log_level, *(["--burst"] if burst else [])]
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
    worker.main(burst=burst)
    return 0
