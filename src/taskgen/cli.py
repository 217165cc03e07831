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
    lock: Annotated[
        str | None, typer.Option(help="The lock file (default: <contracts>/taskgen.lock).")
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
            lock=lock,
            check=check,
        )
    )


@app.command()
def check(
    contracts: Annotated[
        Path | None,
        typer.Argument(help="The contracts folder (default: [tool.taskgen] contracts)."),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(
            metavar="REF",
            help="Compare with the contracts at this git ref instead of the lock file.",
        ),
    ] = None,
    output: Annotated[
        str, typer.Option("--format", help="text, github (CI annotations) or json.")
    ] = "text",
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 on changes this serious or worse: breaking or warning.")
    ] = "breaking",
    lock: Annotated[
        str | None, typer.Option(help="The lock file (default: <contracts>/taskgen.lock).")
    ] = None,
    root: Annotated[
        Path, typer.Option(help="Project root: where pyproject.toml and the outputs are.")
    ] = Path("."),
    explain: Annotated[
        str | None,
        typer.Option(
            metavar="RULE",
            help="Explain a rule: what breaks, a before/after, and the safe way; then exit.",
        ),
    ] = None,
) -> None:
    """Report contract changes that old clients or workers would not survive (exit 1)."""
    from taskgen.cli_check import explain_rule, run_check

    if explain is not None:
        raise typer.Exit(explain_rule(explain))
    contracts_arg = str(contracts) if contracts is not None else None
    raise typer.Exit(run_check(root, contracts_arg, lock, against, output, fail_on))


@app.command()
def worker(
    target: Annotated[str, typer.Argument(help="The Worker to run, as module:attribute.")],
    burst: Annotated[bool, typer.Option("--burst", help="Exit once every queue is empty.")] = False,
    concurrency: Annotated[int | None, typer.Option(help="Tasks run at once per process.")] = None,
    processes: Annotated[
        int, typer.Option(min=1, help="Worker processes to run (restarted if they die).")
    ] = 1,
    redis_url: Annotated[
        str | None, typer.Option(envvar="TASKGEN_REDIS_URL", help="Redis to serve.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "INFO",
    max_tasks_per_process: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Restart each worker process after this many tasks (e.g. a leaking handler).",
        ),
    ] = None,
    max_memory_per_process: Annotated[
        int | None,
        typer.Option(min=1, help="Restart each worker process once it holds more MiB than this."),
    ] = None,
    supervised: Annotated[bool, typer.Option("--supervised", hidden=True)] = False,
) -> None:
    """Run a worker until SIGTERM/SIGINT (a second signal skips the grace period)."""
    from taskgen.cli_worker import run_worker

    raise typer.Exit(
        run_worker(
            target,
            burst=burst,
            concurrency=concurrency,
            redis_url=redis_url,
            log_level=log_level,
            processes=processes,
            max_tasks=max_tasks_per_process,
            max_memory=max_memory_per_process,
            supervised=supervised,
        )
    )


dead = typer.Typer(help="Inspect, requeue and purge a queue's dead letters.", no_args_is_help=True)
app.add_typer(dead, name="dead")

RedisUrl = Annotated[str, typer.Option(envvar="TASKGEN_REDIS_URL", help="Redis holding the queue.")]
Entries = Annotated[
    list[str] | None, typer.Argument(help="Dead-letter entry ids (as `dead list` shows them).")
]
All = Annotated[bool, typer.Option("--all", help="Every dead letter of the queue.")]


@dead.command("list")
def dead_list(
    queue: str,
    limit: Annotated[int, typer.Option(help="Most letters to show.")] = 50,
    redis_url: RedisUrl = "redis://localhost:6379/0",
) -> None:
    """List a queue's dead letters, oldest first, with the reason each one died."""
    from taskgen.cli_dead import list_letters

    list_letters(redis_url, queue, limit)


@dead.command("requeue")
def dead_requeue(
    queue: str,
    entries: Entries = None,
    all_: All = False,
    redis_url: RedisUrl = "redis://localhost:6379/0",
) -> None:
    """Put dead letters back on their queue, with fresh attempts."""
    from taskgen.cli_dead import change_letters

    raise typer.Exit(change_letters(redis_url, queue, entries, all_, purge=False))


@dead.command("purge")
def dead_purge(
    queue: str,
    entries: Entries = None,
    all_: All = False,
    redis_url: RedisUrl = "redis://localhost:6379/0",
) -> None:
    """Delete dead letters for good."""
    from taskgen.cli_dead import change_letters

    raise typer.Exit(change_letters(redis_url, queue, entries, all_, purge=True))


def main() -> None:
    """Entry point of the ``taskgen`` console script."""
    app()
