"""The ``taskgen`` command line: build, check, and run workers.

Heavy modules are imported inside the commands, so ``taskgen --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="taskgen",
    help="Contract-first background tasks: generate typed clients, run workers.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def build(
    contracts: Annotated[
        Path | None,
        typer.Argument(help="The contracts folder (default: [tool.taskgen] contracts)."),
    ] = None,
    client_out: Annotated[
        str | None, typer.Option(help="Folder of the generated client distribution.")
    ] = None,
    client_package: Annotated[
        str | None, typer.Option(help="Import name of the generated client package.")
    ] = None,
    worker_out: Annotated[
        str | None, typer.Option(help="Folder of the worker package (handlers, bindings).")
    ] = None,
    root: Annotated[
        Path, typer.Option(help="Project root: where pyproject.toml and the outputs are.")
    ] = Path("."),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if generated files are stale.")
    ] = False,
) -> None:
    """Generate the client package and the worker scaffold from the contracts."""
    from taskgen.cli_build import run_build

    raise typer.Exit(
        run_build(
            root,
            contracts=str(contracts) if contracts is not None else None,
            client_out=client_out,
            client_package=client_package,
            worker_out=worker_out,
            check=check,
        )
    )


@app.command()
def worker(
    target: Annotated[str, typer.Argument(help="The Worker to run, as module:attribute.")],
    burst: Annotated[bool, typer.Option("--burst", help="Exit once every queue is empty.")] = False,
    concurrency: Annotated[int | None, typer.Option(help="Tasks run at once per process.")] = None,
    redis_url: Annotated[
        str | None, typer.Option(envvar="TASKGEN_REDIS_URL", help="Redis to serve.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "INFO",
) -> None:
    """Run a worker until SIGTERM/SIGINT (a second signal skips the grace period)."""
    from taskgen.cli_worker import run_worker

    run_worker(
        target, burst=burst, concurrency=concurrency, redis_url=redis_url, log_level=log_level
    )


def main() -> None:
    """Entry point of the ``taskgen`` console script."""
    app()
