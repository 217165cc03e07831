"""``taskgen dashboard``: serve the web dashboard with uvicorn."""

from __future__ import annotations

import typer

from taskgen.cli_signing import signing_options


def serve(
    host: str,
    port: int,
    redis_url: str,
    tasks: str | None,
    prefix: str,
    allow_writes: bool,
    keys: tuple[str | None, list[str] | None] = (None, None),
) -> int:
    """Run the dashboard until Ctrl-C; returns the exit code. ``keys``: the signing key file
    and the old ones (or the ``TASKGEN_SIGNING_*`` environment)."""
    try:
        import uvicorn

        from taskgen.dashboard import dashboard
    except ModuleNotFoundError as missing:
        typer.secho(
            f"taskgen dashboard needs {missing.name}: pip install 'taskgen-runtime[dashboard]'",
            fg="red",
            err=True,
        )
        return 2
    if allow_writes and host not in {"127.0.0.1", "localhost", "::1"}:
        typer.secho(
            f"warning: writes are allowed and the dashboard listens on {host}: anyone who "
            "reaches it can requeue, purge and abort; put it behind authentication",
            fg="yellow",
            err=True,
        )
    try:
        signing = signing_options(keys[0], keys[1], False)
    except ValueError as bad:
        typer.secho(f"taskgen dashboard: {bad}", fg="red", err=True)
        return 2
    try:
        app = dashboard(
            redis_url, tasks=tasks, prefix=prefix, allow_writes=allow_writes, signing=signing
        )
    except ValueError as bad:  # --tasks names nothing importable
        typer.secho(f"taskgen dashboard: --tasks: {bad}", fg="red", err=True)
        return 2
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0
