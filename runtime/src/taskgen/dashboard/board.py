"""What the dashboard shows and does, in taskgen's terms: reads through
``taskgen.runtime.inspect``, writes through the dead-letter API and the client's abort."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from redis.asyncio import Redis

from taskgen.runtime import inspect
from taskgen.runtime.client import Client
from taskgen.runtime.deadletters import DeadLetter, DeadLetters
from taskgen.runtime.display import progress_type
from taskgen.runtime.keys import DEFAULT_PREFIX
from taskgen.runtime.signing import Signing, unverified
from taskgen.runtime.taskdef import TaskDef
from taskgen.runtime.wire import ENVELOPE

#: Most dead letters one queue page lists.
LETTERS_SHOWN = 200
#: Throughput samples kept per queue for the sparkline: one a second, two minutes' worth.
SAMPLES = 120
#: Seconds between two SCANs for queues no worker has announced yet (SCAN costs O(keys)).
RESCAN = 30.0


class _Untyped(msgspec.Struct):
    """Stands for the arguments of a task the dashboard has no contract type for."""


class QueueRow(msgspec.Struct, frozen=True):
    """One queue on the overview: its counts and its recent throughput samples."""

    name: str
    stats: inspect.QueueStats
    #: Runs completed in the last minute, sampled once a second, oldest first.
    history: list[int]


class LetterView(msgspec.Struct, frozen=True):
    """A dead letter as a page shows it: why it died, and its arguments decoded."""

    letter: DeadLetter
    args: Any


class TaskView(msgspec.Struct, frozen=True):
    """One task as its page shows it: its state, with arguments and result decoded."""

    info: inspect.TaskInfo
    #: The task's wire name: from its envelope, or (once it ended) its result's fingerprint.
    name: str | None
    args: Any
    result: Any
    typed: bool
    #: The latest typed progress report, decoded like the payloads (None for a number).
    progress: Any = None


class Board:
    """The queues under one prefix, and the contract types that make their payloads readable."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        types: Mapping[str, TaskDef[Any, Any]] | None = None,
        signing: Signing | None = None,
    ) -> None:
        self.redis = redis
        self._signing = signing
        self.prefix = prefix
        self.types = dict(types or {})
        self._by_fingerprint = {t.fingerprint: t for t in self.types.values()}
        self._client = Client(redis, prefix=prefix, registry="off", signing=signing)
        self._history: dict[str, deque[int]] = {}
        self._sampled = 0.0
        self._scanned: tuple[float, list[str]] = (-RESCAN, [])

    async def close(self) -> None:
        """Let go of the client (the Redis connection belongs to whoever opened it)."""
        await self._client.close()

    async def queue_names(self) -> list[str]:
        """Every queue a worker announced, the contract names, or a SCAN found, sorted."""
        found = await inspect.queue_names(self.redis, prefix=self.prefix)
        scanned_at, scanned = self._scanned
        if time.monotonic() - scanned_at >= RESCAN:
            scanned = await inspect.queue_names(self.redis, prefix=self.prefix, scan=True)
            self._scanned = (time.monotonic(), scanned)
        return sorted({*found, *scanned, *(t.queue for t in self.types.values())})

    async def queues(self) -> list[QueueRow]:
        """Every queue with its counts (one round trip for all of them) and its history."""
        names = await self.queue_names()
        stats = await inspect.queues_stats(self.redis, names, prefix=self.prefix)
        self._sample(stats)
        return [QueueRow(s.queue, s, list(self._history[s.queue])) for s in stats]

    def _sample(self, stats: list[inspect.QueueStats]) -> None:
        """Remember each queue's last-minute completions, at most once a second, so every
        viewer's sparkline shows the same recent past."""
        now = time.monotonic()
        due = now - self._sampled >= 1.0
        for s in stats:
            history = self._history.setdefault(s.queue, deque(maxlen=SAMPLES))
            if due or not history:
                history.append(s.completed)
        if due:
            self._sampled = now

    async def workers(self) -> list[inspect.WorkerRecord]:
        """The live workers of every queue."""
        queues = await self.queue_names()
        return await inspect.workers(self.redis, queues, prefix=self.prefix)

    async def task(self, task_id: str, queue: str | None = None) -> TaskView | None:
        """One task's state with its arguments and result decoded, or None if unknown."""
        info = await inspect.task_info(self.redis, task_id, queue=queue, prefix=self.prefix)
        if info is None:
            return None
        task = self.types.get(info.task or "") or self._by_fingerprint.get(info.fingerprint or "")
        args = _display(info.args, task.args if task else None)
        result = _display(info.result, task.result if task else None)
        name = info.task or (task.name if task else None)
        progress = _display(info.progress_value, progress_type(task))
        return TaskView(info, name, args, result, typed=task is not None, progress=progress)

    async def dead_letters(self, queue: str, limit: int = LETTERS_SHOWN) -> list[LetterView]:
        """A queue's dead letters, oldest first, with their arguments decoded."""
        letters = await DeadLetters(self.redis, queue, self.prefix).list(limit)
        return [LetterView(letter, self._letter_args(letter)) for letter in letters]

    async def requeue(self, queue: str, entries: Iterable[str] | None) -> int:
        """Put dead letters (all, when ``entries`` is None) back on their queue."""
        letters = DeadLetters(self.redis, queue, self.prefix, signing=self._signing)
        return await letters.requeue(entries)

    async def purge(self, queue: str, entries: Iterable[str] | None) -> int:
        """Delete dead letters (all, when ``entries`` is None)."""
        return await DeadLetters(self.redis, queue, self.prefix).purge(entries)

    async def abort(self, task_id: str, queue: str, task: str) -> bool:
        """Abort a task through the client (a running one is cancelled by its worker);
        False when it had already ended."""
        known = self.types.get(task)
        if known is None or known.queue != queue:
            # The client needs only the queue and the result's time to live (the default).
            known = TaskDef(name=task, queue=queue, fingerprint="", args=_Untyped, result=Any)
        return await self._client.abort(known, task_id)

    def _letter_args(self, letter: DeadLetter) -> Any:
        try:
            envelope = ENVELOPE.decode(unverified(letter.envelope))
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        task = self.types.get(envelope.task)
        return _display(bytes(envelope.args), task.args if task else None)


def _display(raw: bytes | None, type_: Any) -> Any:
    return None if raw is None else inspect.decode_for_display(raw, type_)
