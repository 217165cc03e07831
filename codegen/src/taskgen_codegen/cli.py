"""The code generator's commands: ``taskgen build``, ``taskgen check`` and ``taskgen dev``.

The ``taskgen`` console script belongs to the runtime; it finds these through the
``taskgen.commands`` entry point group and calls :func:`register`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``build``, ``check``, ``dev`` and ``schema`` to the ``taskgen`` command line."""
    app.command()(build)
    app.command()(check)
    app.command()(dev)
    app.command()(schema)


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
    ts_out: Annotated[
        str | None, typer.Option(help="Folder of the generated TypeScript (npm) client.")
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
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Build, then rebuild whenever the contracts or handlers change."
        ),
    ] = False,
) -> None:
    """Generate the client package and the worker scaffold from the contracts."""
    overrides = {
        "contracts": str(contracts) if contracts is not None else None,
        "client_out": client_out,
        "client_package": client_package,
        "worker_out": worker_out,
        "ts_out": ts_out,
        "lock": lock,
    }
    if watch and check:
        raise typer.BadParameter("--watch writes files; run --check without it")
    if watch:
        with _dev_extra("taskgen build --watch"):
            from taskgen_codegen.dev.watch import watch_build
        raise typer.Exit(watch_build(root, overrides))
    from taskgen_codegen.cli_build import run_build

    raise typer.Exit(run_build(root, check=check, **overrides))


def dev(
    contracts: Annotated[
        Path | None,
        typer.Argument(help="The contracts folder (default: [tool.taskgen] contracts)."),
    ] = None,
    redis_url: Annotated[
        str | None,
        typer.Option(help="Use this Redis instead of starting an embedded valkey-server."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port of the dashboard (on 127.0.0.1).")] = 8080,
    root: Annotated[
        Path, typer.Option(help="Project root: where pyproject.toml and the outputs are.")
    ] = Path("."),
) -> None:
    """Run a project locally: a server, the build on every change, a reloading worker."""
    with _dev_extra("taskgen dev"):
        from taskgen_codegen.dev.session import run_dev

    overrides = {"contracts": str(contracts) if contracts is not None else None}
    raise typer.Exit(run_dev(root, overrides, redis_url, port))


@contextmanager
def _dev_extra(command: str) -> Iterator[None]:
    """Turn a missing module of the ``[dev]`` extra into one line that says what to install."""
    try:
        yield
    except ModuleNotFoundError as missing:
        typer.secho(
            f"{command} needs {missing.name}, which is not installed: "
            "pip install 'taskgen-codegen[dev]'",
            fg="red",
            err=True,
        )
        raise typer.Exit(2) from None


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
    from taskgen_codegen.check.cli import explain_rule, run_check

    if explain is not None:
        raise typer.Exit(explain_rule(explain))

    contracts_arg = str(contracts) if contracts is not None else None
    raise typer.Exit(run_check(root, contracts_arg, lock, against, output, fail_on))


def schema(
    contracts: Annotated[
        Path | None,
        typer.Argument(help="The contracts folder (default: [tool.taskgen] contracts)."),
    ] = None,
    out: Annotated[
        str | None, typer.Option(help="Folder of the schema files (default: schema).")
    ] = None,
    root: Annotated[
        Path, typer.Option(help="Project root: where pyproject.toml and the outputs are.")
    ] = Path("."),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if the files are stale.")
    ] = False,
) -> None:
    """Write JSON Schema for each task's arguments and result, and an AsyncAPI document."""
    from taskgen_codegen.schema.cli import run_schema

    contracts_arg = str(contracts) if contracts is not None else None
    raise typer.Exit(run_schema(root, contracts_arg, out, check))
