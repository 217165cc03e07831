"""Subprocesses of a run: worker commands and client commands, each in its own process group
so that it is killed with everything it spawned, whatever way the run ends."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_LIVE: set[subprocess.Popen[bytes]] = set()


class BenchError(Exception):
    """A library could not complete a workload; the message goes in its table cell."""


@dataclass(frozen=True)
class Running:
    """A long-running command and the file its output goes to."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def failure(self) -> str | None:
        """Why it is no longer running, or None while it runs."""
        code = self.process.poll()
        if code is None:
            return None
        return f"exited ({code}): {log_tail(self.log)}"


def start(argv: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> Running:
    """Start a long-running command, its output appended to ``log``."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    _LIVE.add(process)
    return Running(process, log)


def stop(process: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after ``grace`` seconds."""
    _signal_group(process, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # Children (taskiq's worker processes) may outlive a parent that exited at once.
    _signal_group(process, signal.SIGKILL)
    process.wait()
    _LIVE.discard(process)


def stop_all() -> None:
    """Stop every process this run started that is still alive."""
    for process in list(_LIVE):
        stop(process, grace=2.0)


atexit.register(stop_all)


def _signal_group(process: subprocess.Popen[Any], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def run_json(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> Any:
    """Run a client command to its end and return the JSON its last output line holds."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    _LIVE.add(process)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"timed out after {timeout:.0f} s") from None
    finally:
        stop(process, grace=0)
    if process.returncode != 0:
        raise BenchError(last_line(err.decode(errors="replace")) or f"exit {process.returncode}")
    try:
        return json.loads(last_line(out.decode()))
    except ValueError:
        raise BenchError(f"no JSON in its output: {out[-200:]!r}") from None


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def log_tail(log: Path, lines: int = 1) -> str:
    """The last lines of a log, for an error message."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


def rss_bytes(pid: int) -> int:
    """Resident memory of the largest process in ``pid``'s tree: the worker itself, also when
    the command is a supervisor that forks it (taskiq)."""
    return max((_rss(p) for p in _tree(pid)), default=0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid``'s tree (its live processes)."""
    ticks = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime and stime: fields 14 and 15 of stat, 12 and 13 after the command name.
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_seconds(pid: int) -> float:
    """CPU time ``pid``'s tree has run so far, to the nanosecond: the scheduler's own count
    (``/proc/<pid>/task/<tid>/schedstat``) over every thread, where ``cpu_seconds`` has ticks
    of 10 ms."""
    nanoseconds = 0
    for member in _tree(pid):
        try:
            threads = list(os.scandir(f"/proc/{member}/task"))
        except OSError:
            continue
        for thread in threads:
            try:
                nanoseconds += int(Path(thread.path, "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    return nanoseconds / 1e9


def _tree(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces; the parent pid is the second field after it.
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [pid], [pid]
    while frontier:
        children = [c for c, p in parents.items() if p in frontier]
        found.extend(children)
        frontier = children
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
