"""``taskgen worker``: import the user's Worker and run it."""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from taskgen import log_format as log_format_module
from taskgen.cli_signing import signing_options
from taskgen.runtime import HandlerMismatch, Worker
from taskgen.runtime.faults import EvictingPolicy, redact
from taskgen.runtime.supervisor import RECYCLE, SLOT, supervise
from taskgen.runtime.tls import TlsRefused


def load_worker(target: str) -> Worker:
    """The Worker at ``module:attribute``; the current folder is importable, as with uvicorn."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise typer.BadParameter(f"{target!r}: expected module:attribute, e.g. worker.main:worker")
    try:
        return _import_worker(target, module_name, attribute)
    except HandlerMismatch as mismatch:
        typer.secho(f"taskgen worker: cannot start {target}", fg="red", err=True)
        typer.echo(str(mismatch), err=True)
        raise typer.Exit(2) from None
    except ModuleNotFoundError as missing:
        typer.secho(f"taskgen worker: cannot start {target}: {missing}", fg="red", err=True)
        typer.echo(_missing_module_hint(module_name, missing.name or "?"), err=True)
        raise typer.Exit(2) from None
    except (typer.BadParameter, typer.Exit):
        raise
    except Exception as error:
        # The user's module raised while being imported: say where, in one line.
        place = _innermost(error)
        typer.secho(
            f"taskgen worker: cannot start {target}: importing {module_name} raised "
            f"{type(error).__name__}: {error}{place}",
            fg="red",
            err=True,
        )
        raise typer.Exit(2) from None


def _innermost(error: BaseException) -> str:
    """`` (at file:line)`` of the frame that raised, if the traceback has one."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _import_worker(target: str, module_name: str, attribute: str) -> Worker:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    if not hasattr(module, attribute):
        raise typer.BadParameter(f"{target!r}: module {module_name} has no {attribute!r}")
    found = getattr(module, attribute)
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
    log_format: str = "text",
    metrics_port: int | None = None,
    metrics_address: str = "0.0.0.0",
    processes: int = 1,
    max_tasks: int | None = None,
    max_memory: int | None = None,
    max_envelope_bytes: int | None = None,
    signing_key_file: str | None = None,
    old_signing_key_files: list[str] | None = None,
    allow_unsigned: bool = False,
    supervised: bool = False,
) -> int:
    """Configure logging, apply command-line overrides, and serve; returns the exit code.

    With ``max_tasks`` or ``max_memory`` (MiB) a supervisor runs the process even alone, to
    start the next one each time a process has run its share and exited with ``RECYCLE``."""
    try:
        log_format_module.configure(log_level, log_format)
    except ValueError as bad:
        return _refuse(str(bad))
    if redis_url is not None and (problem := _url_problem(redis_url)):
        return _refuse(problem)
    try:
        signing = signing_options(signing_key_file, old_signing_key_files, allow_unsigned)
    except ValueError as bad:
        return _refuse(str(bad))
    recycles = max_tasks is not None or max_memory is not None
    if processes > 1 or (recycles and not supervised):
        args = [target, "--log-level", log_level, "--log-format", log_format]
        args += ["--burst"] if burst else []
        if metrics_port is not None:
            # Each process serves its own port: the one given plus its slot (see supervise).
            args += ["--metrics-port", str(metrics_port), "--metrics-address", metrics_address]
        if max_tasks is not None:
            args += ["--max-tasks-per-process", str(max_tasks)]
        if max_memory is not None:
            args += ["--max-memory-per-process", str(max_memory)]
        if max_envelope_bytes is not None:
            args += ["--max-envelope-bytes", str(max_envelope_bytes)]
        if signing_key_file is not None:
            args += ["--signing-key-file", signing_key_file]
        for old in old_signing_key_files or ():
            args += ["--old-signing-key-file", old]
        args += ["--allow-unsigned"] if allow_unsigned else []
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
    if max_envelope_bytes is not None:
        worker.max_envelope_bytes = max_envelope_bytes
    if signing is not None:
        worker.signing = signing
    if redis_url is None and (problem := _url_problem(worker.redis_url)):
        return _refuse(problem)
    if metrics_port is not None:
        port = metrics_port + int(os.environ.get(SLOT, "0"))
        if (refused := _serve_metrics(worker, port, metrics_address)) is not None:
            return _refuse(refused)
    try:
        worker.main(burst=burst)
    except (EvictingPolicy, TlsRefused) as refused:
        typer.secho(f"taskgen worker: {refused}", fg="red", err=True)
        return 2
    return RECYCLE if worker.spent else 0


def _refuse(message: str) -> int:
    """Print why the worker cannot start, in one line; the exit code for it."""
    typer.secho(f"taskgen worker: {message}", fg="red", err=True)
    return 2


def _url_problem(url: str) -> str | None:
    """What is wrong with a Redis URL, or None (nothing connects yet)."""
    from redis import Redis

    from taskgen.runtime.cluster import is_cluster_url, parse_cluster_url
    from taskgen.runtime.sentinel import is_sentinel_url, parse_sentinel_url

    try:
        if is_sentinel_url(url):
            parse_sentinel_url(url)
        elif is_cluster_url(url):
            parse_cluster_url(url)
        else:
            Redis.from_url(url).close()  # parses the URL; connects to nothing
    except ValueError as bad:
        return f"--redis-url {redact(url)!r} is not a Redis URL: {bad}"
    return None


def _serve_metrics(worker: Worker, port: int, address: str) -> str | None:
    """Start the metrics endpoint; why it cannot start, or None."""
    try:
        from taskgen.runtime.metrics import serve_metrics
    except ImportError as missing:
        return f"--metrics-port needs {missing.name}: pip install 'taskgen-runtime[metrics]'"
    try:
        serve_metrics(
            port,
            worker.observers,
            redis_url=worker.redis_url,
            queues=worker.queues,
            prefix=worker.prefix,
            address=address,
        )
    except OverflowError:  # port + slot past 65535 with --processes
        return f"cannot serve metrics on port {port}: ports end at 65535"
    except OSError as error:
        return f"cannot serve metrics on {address}:{port}: {error.strerror or error}"
    logging.getLogger("taskgen.worker").info("metrics on http://%s:%d/metrics", address, port)
    return None
