"""``taskgen dev``: a server, the build watcher, a reloading worker and the dashboard, together.

The steps, in order: start a server unless given a URL; build; start the worker (and the
dashboard, when installed); say where each is; then rebuild on every change and restart the
worker after each good build. Ctrl-C (or SIGTERM) stops the dashboard and the worker, then the
server, and nothing outlives the command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType

import typer

from taskgen_codegen.cli_build import relative
from taskgen_codegen.dev import dashboard
from taskgen_codegen.dev.children import Child, Launch
from taskgen_codegen.dev.server import ServerUnavailable, embedded_server
from taskgen_codegen.dev.watch import Builder, Rebuild, rebuilds, report, summary
from taskgen_codegen.generate import BuildConfig


def run_dev(
    root: Path, overrides: Mapping[str, str | None], redis_url: str | None, port: int
) -> int:
    """Run everything until Ctrl-C; returns the exit code."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(_interrupted_by_sigterm())
        if redis_url is None:
            try:
                server = stack.enter_context(embedded_server())
            except ServerUnavailable as exc:
                typer.secho(f"taskgen dev: {exc}", fg="red", err=True)
                return 2
            name, pid = Path(server.binary).name, server.process.pid
            where = f"(embedded {name}, pid {pid}; empty at every start)"
            session = DevSession(Builder(root, overrides), server.url, port, server.process)
        else:
            where = "(yours: taskgen dev leaves it running)"
            session = DevSession(Builder(root, overrides), redis_url, port, None)
        stack.callback(session.stop)
        # Runs first on the way out: a second Ctrl-C must not cut the stopping short.
        stack.callback(_ignore_interrupts)
        try:
            return session.run(where)
        except KeyboardInterrupt:
            typer.echo("taskgen dev: stopping")
            return 0


@contextlib.contextmanager
def _interrupted_by_sigterm() -> Iterator[None]:
    """SIGTERM stops ``taskgen dev`` the way Ctrl-C does; both handlers restored afterwards."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore_interrupts() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


class DevSession:
    """The worker and the dashboard of one ``taskgen dev``, kept in step with the builds."""

    def __init__(
        self,
        builder: Builder,
        redis_url: str,
        port: int,
        server: subprocess.Popen[str] | None,
    ) -> None:
        self.builder = builder
        self.redis_url = redis_url
        self.port = port
        self.server = server
        self.worker = Child("worker")
        self.dashboard = Child("dashboard")

    def run(self, where: str) -> int:
        """Build, start, announce, then follow the changes; returns when the server is gone."""
        for event in rebuilds(self.builder):
            if event is None:
                if not self._look_after_children():
                    return 1
                continue
            changed, result = event
            if not result.ok:
                report(changed, result)
            else:
                restarted = self._restart(result)
                typer.echo(f"{summary(changed, result)}{restarted}")
            if not changed:
                self._announce(where)
        typer.secho("taskgen dev: nothing left to watch", fg="red", err=True)
        return 2

    def stop(self) -> None:
        """Stop the dashboard, then the worker (the server is stopped after them)."""
        self.dashboard.stop()
        self.worker.stop()

    def _restart(self, result: Rebuild) -> str:
        """(Re)start the worker, and the dashboard when the client changed; says what it did."""
        config = self.builder.config
        assert config is not None
        if dashboard.available() and (
            self.dashboard.process is None or result.changed(config.client_path)
        ):
            self.dashboard.start(
                dashboard.launch(self.redis_url, self.port, config, self._env(config))
            )
        if config.worker_path is None:
            return ""
        first = self.worker.process is None
        self.worker.start(self._worker_launch(config))
        return f"; worker {'started' if first else 'restarted'} (pid {self.worker.pid})"

    def _worker_launch(self, config: BuildConfig) -> Launch:
        assert config.worker_path is not None
        command = [sys.executable, "-m", "taskgen", "worker", _target(config)]
        return Launch(
            [*command, "--redis-url", self.redis_url],
            config.worker_path.parent.resolve(),
            self._env(config),
        )

    def _env(self, config: BuildConfig) -> dict[str, str]:
        """The children's environment: both built packages importable, the server's URL."""
        env = dict(os.environ)
        paths = [str(config.client_path.resolve())]
        if config.worker_path is not None:
            paths.append(str(config.worker_path.parent.resolve()))
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        # No bytecode cache: a handler saved twice within one second at the same size would be
        # read back from a stale one (the cache is keyed on whole-second mtimes).
        env.update(
            PYTHONPATH=os.pathsep.join(paths),
            TASKGEN_REDIS_URL=self.redis_url,
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def _look_after_children(self) -> bool:
        """Say when a child ended on its own; False when the server did (nothing can go on)."""
        if self.server is not None and self.server.poll() is not None:
            typer.secho(
                f"taskgen dev: the server exited with code {self.server.returncode}; stopping",
                fg="red",
                err=True,
            )
            return False
        for child in (self.worker, self.dashboard):
            code = child.ended()
            if code is not None:
                typer.secho(
                    f"{time.strftime('%H:%M:%S')} {child.name} exited with code {code}; "
                    "it restarts on the next change",
                    fg="yellow",
                    err=True,
                )
        return True

    def _announce(self, where: str) -> None:
        """The block that says where everything is and what to do next."""
        config = self.builder.config
        lines = ["", "taskgen dev is running (Ctrl-C stops everything)"]
        lines.append(f"  Redis:      {self.redis_url}  {where}")
        if config is None:
            lines.append("  worker:     not started: fix the configuration above, then save")
        else:
            lines += self._project_lines(config)
        lines.append("")
        typer.echo("\n".join(lines))

    def _project_lines(self, config: BuildConfig) -> list[str]:
        client = relative(config.client_path)
        lines = [f"  contracts:  {relative(config.contracts_path)}/  rebuilt on every change"]
        if config.worker_path is None:
            lines.append("  worker:     none (no worker-out in [tool.taskgen])")
        elif self.worker.pid is None:
            lines.append("  worker:     not started yet: fix the contracts (above), then save")
        else:
            folder = relative(config.worker_path.parent)
            lines.append(
                f"  worker:     {_target(config)} in {folder}/ (pid {self.worker.pid}), "
                "restarted when a handler or the contract changes"
            )
        if not dashboard.available():
            lines.append(f"  dashboard:  not installed ({dashboard.INSTALL})")
        else:
            lines.append(f"  dashboard:  http://127.0.0.1:{self.port}")
        lines += ["", "Next:"]
        if config.worker_path is not None:
            handlers = relative(config.worker_path / "handlers")
            lines.append(f"  write the handlers in {handlers}/ (saving one restarts the worker)")
        lines.append(
            f"  enqueue: {config.client_class_name}.from_url({self.redis_url!r}) "
            f"with {client} importable (pip install -e {client}, or PYTHONPATH={client})"
        )
        return lines


def _target(config: BuildConfig) -> str:
    """The worker's ``module:attribute``, in the entry point that ``taskgen build`` creates."""
    return f"{config.worker_package}.main:worker"
