"""The libraries compared: which virtualenv each runs in, its worker command, and its
published benchmark configuration (what the report and the docs say about it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.peers.common import CONCURRENCY

#: The worker command of a library: (its venv's bin folder, whether tasks sleep) -> argv.
WorkerCommand = Callable[[Path, bool], list[str]]


@dataclass(frozen=True)
class Library:
    """One column of the table."""

    name: str
    env: str
    #: The enqueue mode of its published configuration: "many" (one batch call) or "each".
    published_enqueue: str
    worker: WorkerCommand
    config: str
    peer: bool = True
    #: Whether it can enqueue one by one (the bare loop only batches).
    enqueues_each: bool = True

    @property
    def module(self) -> str:
        return f"bench.peers.{self.name}"


C = str(CONCURRENCY)

LIBRARIES = [
    Library(
        "taskgen",
        "taskgen",
        "many",
        lambda b, _: [
            str(b / "taskgen"),
            "worker",
            "bench.peers.taskgen:worker",
            "--concurrency",
            C,
            # No line per task (as saq's --quiet): at INFO each costs more than the task.
            "--log-level",
            "WARNING",
        ],
        f"`Client.enqueue_many` (one call) / `enqueue` with a semaphore of 32; "
        f"`taskgen worker --concurrency {C} --log-level WARNING`; results awaited by pub/sub",
        peer=False,
    ),
    Library(
        "streaq",
        "peers",
        "many",
        lambda b, _: [str(b / "streaq"), "run", "bench.peers.streaq:worker"],
        f"`Worker(concurrency={C})` on uvloop, `enqueue_many` (one call); results by pub/sub",
    ),
    Library(
        "saq",
        "peers",
        "each",
        lambda b, _: [str(b / "saq"), "bench.peers.saq.settings", "--quiet"],
        f"`concurrency={C}`, `dequeue_timeout=1`; enqueue with a semaphore of 32; "
        "results by `Queue.apply`",
    ),
    Library(
        "taskiq",
        "peers",
        "each",
        lambda b, _: [
            str(b / "taskiq"),
            "worker",
            "bench.peers.taskiq:broker",
            "--workers",
            "1",
            "--max-async-tasks",
            C,
            "--max-prefetch",
            C,
        ],
        f"`RedisStreamBroker(xread_count={C})` + `RedisAsyncResultBackend`, "
        f"`--max-async-tasks {C} --max-prefetch {C}`; enqueue with a semaphore of 32; "
        "results polled every 1 ms",
    ),
    Library(
        "arq",
        "arq",
        "each",
        lambda b, _: [str(b / "arq"), "bench.peers.arq.WorkerSettings"],
        f"`max_jobs={C}`; enqueue with a semaphore of 32; results polled every 0.5 s (its default)",
    ),
    Library(
        "bare",
        "taskgen",
        "many",
        lambda b, sleeps: [
            str(b / "python"),
            "-m",
            "bench.peers.bare",
            "worker",
            "--count",
            C if sleeps else "500",
        ],
        "pipelined XADD; XREADGROUP COUNT 500 (32 for sleeping tasks); per batch one pipeline "
        "of XACK + XDEL + SET/PUBLISH per result; msgspec",
        peer=False,
        enqueues_each=False,
    ),
]

BY_NAME = {library.name: library for library in LIBRARIES}
