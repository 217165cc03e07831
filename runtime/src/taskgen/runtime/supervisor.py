"""``--processes N``: run N worker processes and keep them running until told to stop."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

log = logging.getLogger("taskgen.worker")

#: A child that dies sooner than this after starting is restarted only after this pause.
QUICK_DEATH = 5.0
#: The exit code of a worker that refuses to start (a handler mismatch, an evicting Redis):
#: starting it again would fail the same way, so the supervisor stops instead.
REFUSED = 2

#: The exit code of a child that ran its share of tasks (``--max-tasks-per-process``) and
#: stopped cleanly: it is replaced at once (EX_TEMPFAIL).
RECYCLE = 75

#: The environment variable that tells each child its slot, 0 to N-1 (kept by a replacement),
#: so per-process settings such as the metrics port can differ.
SLOT = "TASKGEN_PROCESS_SLOT"


def supervise(worker_args: Sequence[str], processes: int) -> int:
    """Run ``processes`` copies of ``taskgen worker <worker_args>``, restarting any that dies.

    SIGTERM/SIGINT are passed on to every child, which then shuts down gracefully. A child that
    refuses to start (exit code 2) stops them all. Returns the first non-zero exit code of a
    child after the stop, or 0 when all ended cleanly."""
    command = [sys.executable, "-m", "taskgen", "worker", *worker_args]
    children: dict[int, tuple[float, int]] = {}
    stopping = False

    def start(slot: int) -> None:
        child = subprocess.Popen(command, env={**os.environ, SLOT: str(slot)})
        children[child.pid] = (time.monotonic(), slot)

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            os.kill(pid, signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    codes: list[int] = []
    try:
        for slot in range(processes):
            start(slot)
        while children:
            pid, status = os.waitpid(-1, 0)  # a signal runs stop() and the wait goes on
            child = children.pop(pid, None)
            if child is None:
                continue
            started, slot = child
            code = os.waitstatus_to_exitcode(status)
            if code == RECYCLE and not stopping:
                log.info("worker process %d ran its share of tasks; starting another", pid)
                start(slot)
                continue
            if stopping or code == 0:  # stopped, or done (--burst): not to be replaced
                codes.append(0 if code == RECYCLE else code)
                continue
            if code == REFUSED:
                log.error("worker process %d refused to start; stopping the others", pid)
                codes.append(code)
                stop(signal.SIGTERM, None)
                continue
            log.warning("worker process %d exited with %d; starting another", pid, code)
            if time.monotonic() - started < QUICK_DEATH:
                time.sleep(QUICK_DEATH)
            if not stopping:
                start(slot)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return next((c for c in codes if c != 0), 0)
