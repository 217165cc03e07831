"""The ``taskgen`` command line: run workers and mend dead letters; more commands from plugins.

Heavy modules are imported inside the commands, so ``taskgen --help`` stays instant. The code
generator (``taskgen-codegen``) adds ``build`` and ``check`` through the ``taskgen.commands``
entry point group: the runtime never imports the tool, and a worker image needs neither.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from taskgen.cli_signing import AllowUnsigned, OldSigningKeyFiles, SigningKeyFile

app = typer.Typer(
    name="taskgen",
    help="Contract-first background tasks: generate typed clients, run workers.",
    no_args_is_help=True,
    add_completion=False,
    # A mistake at the command line gets one line (see main); a bug, Python's own traceback.
    pretty_exceptions_enable=False,
)


@app.command()
def worker(
    target: Annotated[str, typer.Argument(help="The Worker to run, as module:attribute.")],
    burst: Annotated[bool, typer.Option("--burst", help="Exit once every queue is empty.")] = False,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Tasks run at once per process.")
    ] = None,
    processes: Annotated[
        int, typer.Option(min=1, help="Worker processes to run (restarted if they die).")
    ] = 1,
    redis_url: Annotated[
        str | None, typer.Option(envvar="TASKGEN_REDIS_URL", help="Redis to serve.")
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="Logging level: DEBUG, INFO, WARNING or ERROR.")
    ] = "INFO",
    log_format: Annotated[
        str, typer.Option(help="text, or json: one JSON object per line, for log pipelines.")
    ] = "text",
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve Prometheus metrics on this port (needs taskgen-runtime[metrics]); "
            "with --processes N, process k serves on port + k.",
        ),
    ] = None,
    metrics_address: Annotated[
        str, typer.Option(help="The address the metrics endpoint listens on.")
    ] = "0.0.0.0",
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
    max_envelope_bytes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Dead-letter, undecoded, any task entry larger than this many bytes "
            "(default: the Worker's, 16 MiB).",
        ),
    ] = None,
    signing_key_file: SigningKeyFile = None,
    old_signing_key_file: OldSigningKeyFiles = None,
    allow_unsigned: AllowUnsigned = False,
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
            log_format=log_format,
            metrics_port=metrics_port,
            metrics_address=metrics_address,
            processes=processes,
            max_tasks=max_tasks_per_process,
            max_memory=max_memory_per_process,
            max_envelope_bytes=max_envelope_bytes,
            signing_key_file=signing_key_file,
            old_signing_key_files=old_signing_key_file or [],
            allow_unsigned=allow_unsigned,
            supervised=supervised,
        )
    )


dead = typer.Typer(help="Inspect, requeue and purge a queue's dead letters.", no_args_is_help=True)
app.add_typer(dead, name="dead")

# taskgen.runtime.keys' defaults, spelled here so `taskgen --help` imports no runtime module
# (tests/runtime/test_prefix.py checks they agree).
DEFAULT_URL = "redis://localhost:6379/0"
DEFAULT_PREFIX = "taskgen"

RedisUrl = Annotated[str, typer.Option(envvar="TASKGEN_REDIS_URL", help="Redis holding the queue.")]
Entries = Annotated[
    list[str] | None, typer.Argument(help="Dead-letter entry ids (as `dead list` shows them).")
]
All = Annotated[bool, typer.Option("--all", help="Every dead letter of the queue.")]
Prefix = Annotated[
    str, typer.Option(envvar="TASKGEN_PREFIX", help="First part of every key (Worker(prefix=...)).")
]


@dead.command("list")
def dead_list(
    queue: str,
    limit: Annotated[int, typer.Option(help="Most letters to show.")] = 50,
    redis_url: RedisUrl = DEFAULT_URL,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """List a queue's dead letters, oldest first, with the reason each one died."""
    from taskgen.cli_dead import list_letters

    list_letters(redis_url, queue, limit, prefix)


@dead.command("requeue")
def dead_requeue(
    queue: str,
    entries: Entries = None,
    all_: All = False,
    redis_url: RedisUrl = DEFAULT_URL,
    prefix: Prefix = DEFAULT_PREFIX,
    signing_key_file: SigningKeyFile = None,
    old_signing_key_file: OldSigningKeyFiles = None,
) -> None:
    """Put dead letters back on their queue, with fresh attempts (a signed letter only if its
    signature checks out under the signing key; else byte for byte, for the worker to judge)."""
    from taskgen.cli_dead import change_letters

    raise typer.Exit(
        change_letters(
            redis_url,
            queue,
            entries,
            all_,
            purge=False,
            prefix=prefix,
            signing_key_file=signing_key_file,
            old_signing_key_files=old_signing_key_file,
        )
    )


@dead.command("purge")
def dead_purge(
    queue: str,
    entries: Entries = None,
    all_: All = False,
    redis_url: RedisUrl = DEFAULT_URL,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Delete dead letters for good."""
    from taskgen.cli_dead import change_letters

    raise typer.Exit(change_letters(redis_url, queue, entries, all_, purge=True, prefix=prefix))


@app.command("acl")
def acl_rule(
    role: Annotated[
        str,
        typer.Option(help="worker (also taskgen dead), or producer (enqueue and await results)."),
    ],
    prefix: Prefix = DEFAULT_PREFIX,
    server: Annotated[
        str | None,
        typer.Option(help="The server's version, e.g. 7.0 (Redis 7.0-7.1 lack CLIENT SETINFO)."),
    ] = None,
    cluster: Annotated[
        bool, typer.Option(help="For a Redis Cluster (redis+cluster:// URLs): set on every node.")
    ] = False,
) -> None:
    """Print the least-privilege ACL rule for a worker or a producer (ACL SETUSER <name> ...)."""
    from taskgen.runtime.acl import ROLES, parse_version, rule

    chosen = next((known for known in ROLES if known == role), None)
    if chosen is None:
        raise typer.BadParameter(f"{role!r}: use one of {', '.join(ROLES)}", param_hint="--role")
    try:
        version = parse_version(server) if server is not None else None
        typer.echo(rule(chosen, prefix, version, cluster=cluster))
    except ValueError as bad:
        raise typer.BadParameter(str(bad)) from None


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8080,
    host: Annotated[
        str, typer.Option(help="Address to bind (only this machine by default).")
    ] = "127.0.0.1",
    redis_url: RedisUrl = DEFAULT_URL,
    tasks: Annotated[
        str | None,
        typer.Option(
            help="Module of the contract's TaskDefs (or module:worker), for typed payloads."
        ),
    ] = None,
    prefix: Prefix = DEFAULT_PREFIX,
    allow_writes: Annotated[
        bool,
        typer.Option("--allow-writes", help="Offer requeue, purge and abort (put it behind auth)."),
    ] = False,
    signing_key_file: SigningKeyFile = None,
    old_signing_key_file: OldSigningKeyFiles = None,
) -> None:
    """Serve the web dashboard: queues, workers, tasks, dead letters."""
    from taskgen.cli_dashboard import serve

    keys = (signing_key_file, old_signing_key_file)
    raise typer.Exit(serve(host, port, redis_url, tasks, prefix, allow_writes, keys))


@app.command()
def status(
    queues: Annotated[
        list[str] | None, typer.Argument(help="Queues to show (default: every known queue).")
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Redraw every --every seconds until Ctrl-C.")
    ] = False,
    every: Annotated[float, typer.Option(min=0.1, help="Seconds between --watch redraws.")] = 2.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    scan: Annotated[
        bool, typer.Option("--scan", help="Also find queues no worker has served (SCANs keys).")
    ] = False,
    redis_url: RedisUrl = DEFAULT_URL,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Show each queue (ready by priority, scheduled, retrying, running, dead, oldest wait,
    the last minute's throughput) and the live workers."""
    from taskgen.cli_status import show_status

    raise typer.Exit(
        show_status(
            redis_url,
            queues or [],
            prefix=prefix,
            scan=scan,
            as_json=as_json,
            watch=watch,
            every=every,
        )
    )


task = typer.Typer(help="Look at one task.", no_args_is_help=True)
app.add_typer(task, name="task")


@task.command("show")
def task_show(
    task_id: Annotated[str, typer.Argument(help="The task's id (handle.id).")],
    queue: Annotated[
        str | None, typer.Option(help="Its queue (default: look in every known queue).")
    ] = None,
    tasks: Annotated[
        str | None,
        typer.Option(
            help="Where the contract's types are, to decode the arguments and result: the "
            "generated client's tasks module (e.g. shop_tasks.tasks) or a module:worker target."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    redis_url: RedisUrl = DEFAULT_URL,
    prefix: Prefix = DEFAULT_PREFIX,
) -> None:
    """Show one task's state, attempts, timings, progress, error, arguments and result."""
    from taskgen.cli_task import show_task

    raise typer.Exit(
        show_task(redis_url, task_id, queue=queue, tasks=tasks, prefix=prefix, as_json=as_json)
    )


#: The runtime's own commands.
RUNTIME_COMMANDS = {"worker", "dead", "status", "task", "dashboard", "acl"}

#: Commands that another distribution provides, and which one, for a helpful refusal.
ELSEWHERE = {
    "build": "taskgen-codegen",
    "check": "taskgen-codegen",
    "dev": "'taskgen-codegen[dev]'",
}


def with_plugins() -> typer.Typer:
    """The app with the commands other installed distributions add (``taskgen.commands``)."""
    from importlib.metadata import entry_points

    global _plugged
    if not _plugged:
        _plugged = True
        for entry in entry_points(group="taskgen.commands"):
            entry.load()(app)
    return app


_plugged = False


def main() -> None:
    """Entry point of the ``taskgen`` console script."""
    import sys

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in RUNTIME_COMMANDS:  # the runtime's own commands skip the plugin scan
        with_plugins()
        registered = {
            info.name or getattr(info.callback, "__name__", "") for info in app.registered_commands
        }
        if command in ELSEWHERE and command not in registered:
            print(
                f"taskgen {command} comes with the code generator: "
                f"pip install {ELSEWHERE[command]}",
                file=sys.stderr,
            )
            raise SystemExit(2)
    raise SystemExit(_run_app())


def _run_app() -> int:
    """Run the app; a usage error (an unknown option, a bad value) is one line on stderr."""
    import sys

    errors = _click_errors()
    asks_for_help: Any = getattr(errors, "NoArgsIsHelpError", ())
    try:
        code = app(standalone_mode=False)
    except errors.UsageError as error:
        if isinstance(error, asks_for_help):
            error.show()  # the help text, as click shows it
        else:
            where = error.ctx.command_path if error.ctx is not None else "taskgen"
            print(f"{where}: {error.format_message()} (see {where} --help)", file=sys.stderr)
        return int(error.exit_code)
    except errors.ClickException as error:
        print(f"taskgen: {error.format_message()}", file=sys.stderr)
        return int(error.exit_code)
    except typer.Abort:
        return 130
    return code if isinstance(code, int) else 0


def _click_errors() -> Any:
    """click's exception classes: typer vendors click from 0.2x on, older typer uses click."""
    from importlib import import_module

    try:
        return import_module("typer._click.exceptions")
    except ImportError:
        return import_module("click.exceptions")
