"""The processes ``taskgen dev`` runs (the server, the worker, the dashboard) and how they end.

Each child gets a session of its own, so the terminal's Ctrl-C reaches only ``taskgen dev``,
which then stops the worker before the server it needs to hand its tasks back. On Linux each
child is also told to die with its parent, so not even a SIGKILL of ``taskgen dev`` leaves one
behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

#: How long a child may take to stop after SIGTERM before it is killed.
GRACE = 5.0

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Launch:
    """How to start one child: its command line, folder and environment."""

    command: Sequence[str]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


def spawn(launch: Launch, *, stdout: int | IO[str] | None = None) -> subprocess.Popen[str]:
    """Start a child in its own session that dies with this process."""
    return subprocess.Popen(
        list(launch.command),
        cwd=launch.cwd,
        env=dict(launch.env),
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not None else None,
        text=True,
        start_new_session=True,
        preexec_fn=_dying_with(os.getpid()) if sys.platform == "linux" else None,
    )


def _dying_with(parent: int) -> Callable[[], None]:
    # Looked up before the fork: loading a library in the child of a threaded parent may block.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return die_with_parent


def stop(process: subprocess.Popen[str], grace: float = GRACE) -> int:
    """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


class Child:
    """A restartable child process, named for the messages about it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.process: subprocess.Popen[str] | None = None
        self._reported = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, launch: Launch) -> None:
        """Start it (stopping the running one first)."""
        self.stop()
        self.process = spawn(launch)
        self._reported = False

    def stop(self) -> None:
        """Stop it, if it runs."""
        if self.process is not None:
            stop(self.process)
            self.process = None

    def ended(self) -> int | None:
        """The exit code, once, when it ended on its own; None while it runs (or was told)."""
        if self.process is None or self._reported:
            return None
        code = self.process.poll()
        if code is not None:
            self._reported = True
        return code
