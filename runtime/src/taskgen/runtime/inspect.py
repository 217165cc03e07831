"""Read what the queues hold and who serves them: the API behind ``taskgen status``,
``taskgen task show`` and the dashboard.

Everything here reads, batched: one pipeline serves any number of queues, so the status of
50 queues is a couple of round trips. It needs only redis and msgspec, and every value it
returns is a msgspec Struct that encodes to JSON (``msgspec.json.encode``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis

from taskgen.runtime.display import UNTYPED_NOTE, decode_for_display, task_types
from taskgen.runtime.heartbeat import HEARTBEAT
from taskgen.runtime.keys import DEFAULT_PREFIX, GROUP, LEVELS, QueueKeys, queues_key
from taskgen.runtime.progress import Progress, decode_stored
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.signing import unverified
from taskgen.runtime.wire import ENVELOPE, OUTCOME, Envelope, ErrorInfo, Outcome, TaskStatus

__all__ = [
    "THROUGHPUT_BUCKET",
    "THROUGHPUT_WINDOW",
    "UNTYPED_NOTE",
    "DeadLetterInfo",
    "QueueStats",
    "TaskInfo",
    "WorkerRecord",
    "decode_for_display",
    "queue_names",
    "queue_stats",
    "queues_stats",
    "task_info",
    "task_types",
    "workers",
]

#: Seconds per throughput bucket, and the seconds the "last minute" figures cover.
THROUGHPUT_BUCKET = 5
THROUGHPUT_WINDOW = 60


class QueueStats(msgspec.Struct, frozen=True, kw_only=True):
    """What one queue holds now, and how much it got through in the last minute."""

    queue: str
    #: Tasks ready and not taken by a worker yet, per priority name, highest first.
    ready: dict[str, int]
    #: Tasks waiting for their time: delayed at enqueue (``scheduled``) or for a retry.
    scheduled: int
    retrying: int
    #: Tasks taken by a worker (leased): running, or about to.
    running: int
    #: Letters in the dead-letter stream.
    dead: int
    #: Seconds the oldest ready task has waited to be taken; None when none waits.
    oldest_wait: float | None
    #: Runs that ended in the last minute: done, ended otherwise (failed, timed out,
    #: rejected, dead-lettered...), and failed but retried.
    completed: int
    failed: int
    retried: int

    @property
    def ready_total(self) -> int:
        """Ready tasks over every priority level."""
        return sum(self.ready.values())


class WorkerRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One live worker process, from its heartbeat record."""

    consumer: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    running: int
    processed: int
    failed: int
    #: Epoch milliseconds: when it started, and when its heartbeat runs out.
    started_at: int
    expires_at: int
    version: str
    #: Task wire name -> contract fingerprint, for the tasks it serves.
    fingerprints: dict[str, str]
    #: Task id -> when it started (epoch ms), for the tasks it runs now.
    tasks: dict[str, int] = {}


class DeadLetterInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Where and why a task was dead-lettered."""

    entry: str
    reason: str
    #: When, in epoch milliseconds.
    at: int


class TaskInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One task's state, tries, timings, error and raw payloads, as Redis holds them now."""

    task_id: str
    queue: str
    #: A ``TaskStatus`` value; ``running`` once a worker has taken a queued task.
    status: str
    #: Waiting in the delayed set for another attempt (status ``scheduled``).
    retrying: bool = False
    #: The task's wire name and contract fingerprint, when its envelope or result says.
    task: str | None = None
    fingerprint: str | None = None
    priority: int | None = None
    #: The attempt running or waiting (1 on the first try), or the attempts it took.
    attempts: int = 1
    #: Deliveries of the current attempt (more than 1 after a worker died running it).
    deliveries: int = 1
    #: Epoch milliseconds, each None when unknown.
    enqueued_at: int | None = None
    due_at: int | None = None
    started_at: int | None = None
    finished_at: int | None = None
    expires_at: int | None = None
    #: The consumer name of the worker holding it (running, or taken and about to run).
    worker: str | None = None
    error: ErrorInfo | None = None
    #: The encoded arguments (msgpack), while the envelope is kept: until the task ends, or
    #: in its dead letter. None for a task that ended otherwise.
    args: bytes | None = None
    #: The encoded value (msgpack) of a task that ended done.
    result: bytes | None = None
    progress: Progress | None = None
    #: The typed value (msgpack) of the latest progress report, for a task whose contract
    #: declares a progress type; ``progress`` then holds only its time.
    progress_value: bytes | None = None
    dead_letter: DeadLetterInfo | None = None


async def queue_names(
    redis: Redis, *, prefix: str = DEFAULT_PREFIX, scan: bool = False
) -> list[str]:
    """The known queues, sorted: those workers have served (the ``<prefix>:queues`` set they
    add to at start), and with ``scan`` also every queue with a ready stream (SCAN, O(keys))."""
    names = {_text(name) for name in await redis.smembers(queues_key(prefix))}
    if scan:
        head = f"{prefix}:{{"
        async for key in redis.scan_iter(match=f"{_glob(prefix)}:{{*}}:ready:*", count=1000):
            text = _text(key)
            if text.startswith(head) and "}:ready:" in text:
                names.add(text[len(head) :].rsplit("}:ready:", 1)[0])
    return sorted(names)


async def queue_stats(redis: Redis, queue: str, *, prefix: str = DEFAULT_PREFIX) -> QueueStats:
    """What one queue holds now (one round trip)."""
    (stats,) = await queues_stats(redis, [queue], prefix=prefix)
    return stats


async def queues_stats(
    redis: Redis, queues: Sequence[str], *, prefix: str = DEFAULT_PREFIX
) -> list[QueueStats]:
    """What each queue holds now, in the order given, in one pipelined round trip."""
    if not queues:
        return []
    scripts = Scripts(redis)
    async with redis.pipeline(transaction=False) as pipe:
        for queue in queues:
            keys = QueueKeys(queue, prefix)
            await scripts.stats(
                keys=[*keys.streams, keys.delayed, keys.retrying, keys.dead, keys.throughput],
                args=[GROUP],
                client=pipe,
            )
        replies = await pipe.execute()
    return [_stats(queue, reply) for queue, reply in zip(queues, replies, strict=True)]


async def workers(
    redis: Redis, queues: Iterable[str], *, prefix: str = DEFAULT_PREFIX
) -> list[WorkerRecord]:
    """The live workers serving any of ``queues`` (each once), by host and pid."""
    names = list(queues)
    if not names:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        # Spelled as a raw command: a cluster pipeline refuses its ``time()`` wrapper but
        # sends TIME to a node all the same.
        pipe.execute_command("TIME")
        for queue in names:
            keys = QueueKeys(queue, prefix)
            pipe.hgetall(keys.heartbeats)
            pipe.zrange(keys.alive, 0, -1, withscores=True)
        replies = await pipe.execute()
    seconds, micros = replies[0]
    now = int(seconds) * 1000 + int(micros) // 1000
    found: dict[str, WorkerRecord] = {}
    for i in range(len(names)):
        records: dict[bytes, bytes] = replies[1 + 2 * i]
        expiry = {_text(name): int(score) for name, score in replies[2 + 2 * i]}
        for raw_name, raw in records.items():
            name = _text(raw_name)
            expires = expiry.get(name, 0)
            if expires <= now:
                continue
            record = _record(name, raw, expires)
            if record is not None:
                known = found.get(name)
                if known is None or known.expires_at < record.expires_at:
                    found[name] = record
    return sorted(found.values(), key=lambda w: (w.host, w.pid, w.consumer))


async def task_info(
    redis: Redis, task_id: str, *, queue: str | None = None, prefix: str = DEFAULT_PREFIX
) -> TaskInfo | None:
    """One task's state, looked up in ``queue`` or, when None, in every known queue (two or
    three round trips); None when no queue holds it (never enqueued, or its result expired)."""
    if queue is not None:
        candidates = [queue]
    else:
        candidates = await queue_names(redis, prefix=prefix)
    found = await _find(redis, task_id, candidates, prefix)
    if found is None and queue is None:
        others = [
            q for q in await queue_names(redis, prefix=prefix, scan=True) if q not in candidates
        ]
        found = await _find(redis, task_id, others, prefix)
    if found is None:
        return None
    keys, state = found
    return await _details(redis, keys, task_id, state)


# -- reading replies -----------------------------------------------------------------------


def _stats(queue: str, reply: list[Any]) -> QueueStats:
    now = int(reply[0])
    ready: dict[str, int] = {}
    taken = 0
    oldest: int | None = None
    for level, (entries, pending, first) in zip(LEVELS, reply[1 : 1 + len(LEVELS)], strict=True):
        ready[level.name.lower()] = max(0, int(entries) - int(pending))
        taken += int(pending)
        if first:
            at = _entry_ms(first)
            oldest = at if oldest is None else min(oldest, at)
    delayed, retrying, dead, counts = reply[1 + len(LEVELS) :]
    completed, failed, retried = _throughput(counts, now)
    return QueueStats(
        queue=queue,
        ready=ready,
        scheduled=max(0, int(delayed) - int(retrying)),
        retrying=int(retrying),
        running=taken,
        dead=int(dead),
        oldest_wait=None if oldest is None else max(0.0, (now - oldest) / 1000),
        completed=completed,
        failed=failed,
        retried=retried,
    )


def _throughput(fields: list[bytes], now: int) -> tuple[int, int, int]:
    """Sum the buckets of the last minute: fields '<bucket>d', '<bucket>f', '<bucket>r'.

    Buckets come from the workers' clocks: one a little ahead of Redis's still counts."""
    first = now // (THROUGHPUT_BUCKET * 1000) - THROUGHPUT_WINDOW // THROUGHPUT_BUCKET + 1
    totals = {"d": 0, "f": 0, "r": 0}
    for i in range(0, len(fields) - 1, 2):
        field, count = _text(fields[i]), _text(fields[i + 1])
        bucket, kind = field[:-1], field[-1:]
        if kind in totals and bucket.isdigit() and int(bucket) >= first and count.isdigit():
            totals[kind] += int(count)
    return totals["d"], totals["f"], totals["r"]


def _record(name: str, raw: bytes, expires: int) -> WorkerRecord | None:
    try:
        beat = HEARTBEAT.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # written by another version: not ours to show
    return WorkerRecord(
        consumer=name,
        host=beat.host,
        pid=beat.pid,
        queues=list(beat.queues),
        concurrency=beat.concurrency,
        running=beat.running,
        processed=beat.processed,
        failed=beat.failed,
        started_at=beat.started_at,
        expires_at=expires,
        version=beat.version,
        fingerprints=dict(beat.fingerprints),
        tasks=dict(beat.tasks),
    )


async def _find(
    redis: Redis, task_id: str, queues: Sequence[str], prefix: str
) -> tuple[QueueKeys, dict[bytes, bytes]] | None:
    if not queues:
        return None
    keyed = [QueueKeys(queue, prefix) for queue in queues]
    async with redis.pipeline(transaction=False) as pipe:
        for keys in keyed:
            pipe.hgetall(keys.task(task_id))
        replies = await pipe.execute()
    for keys, state in zip(keyed, replies, strict=True):
        if state:
            return keys, state
    return None


async def _details(
    redis: Redis, keys: QueueKeys, task_id: str, state: dict[bytes, bytes]
) -> TaskInfo:
    status = _text(state.get(b"s", b"unknown"))
    level = state.get(b"l")
    entry = state.get(b"e")
    dead_entry = state.get(b"d")
    stream = f"{keys.base}:ready:{_text(level)}" if level is not None else None
    async with redis.pipeline(transaction=False) as pipe:
        pipe.sismember(keys.retrying, task_id)
        pipe.zscore(keys.delayed, task_id)
        pipe.hgetall(keys.heartbeats)
        if stream is not None and entry is not None and status == TaskStatus.QUEUED:
            pipe.xrange(stream, entry, entry)
            pipe.xpending_range(stream, GROUP, min=entry, max=entry, count=1)
        if dead_entry is not None:
            pipe.xrange(keys.dead, dead_entry, dead_entry)
        replies = await pipe.execute(raise_on_error=False)
    retrying, due, beats = replies[0], replies[1], replies[2]
    rest = replies[3:]
    envelope_bytes: bytes | None = state.get(b"p")
    holder: str | None = None
    if stream is not None and entry is not None and status == TaskStatus.QUEUED:
        rows, pending = rest[0], rest[1]
        rest = rest[2:]
        if isinstance(rows, list) and rows:
            fields = rows[0][1]
            envelope_bytes = next(iter(fields.values()), None)
        if isinstance(pending, list) and pending:
            status = TaskStatus.RUNNING.value
            holder = _text(pending[0]["consumer"])
    dead_letter: DeadLetterInfo | None = None
    if dead_entry is not None and rest and isinstance(rest[0], list) and rest[0]:
        dead_id, fields = rest[0][0]
        dead_letter = DeadLetterInfo(
            entry=_text(dead_id), reason=_text(fields.get(b"reason", b"")), at=_entry_ms(dead_id)
        )
        envelope_bytes = envelope_bytes or fields.get(b"envelope")
    envelope = _envelope(envelope_bytes)
    outcome = _outcome(state.get(b"o"))
    started = _started(beats, task_id) if holder is not None else None
    redeliveries = _int(state.get(b"r"))
    stored = decode_stored(state.get(b"g"))
    info = TaskInfo(
        task_id=task_id,
        queue=keys.queue,
        status=status,
        retrying=bool(retrying is True or retrying == 1),
        task=envelope.task if envelope else None,
        fingerprint=envelope.fingerprint if envelope else None,
        priority=envelope.priority if envelope else (int(level) if level is not None else None),
        attempts=envelope.attempt if envelope else 1,
        deliveries=redeliveries + 1,
        enqueued_at=envelope.enqueued_at if envelope else None,
        due_at=int(due) if isinstance(due, (int, float)) else None,
        started_at=started,
        expires_at=(envelope.expires_at or None) if envelope else None,
        worker=holder,
        args=bytes(envelope.args) if envelope else None,
        progress=stored.plain if stored is not None else None,
        progress_value=bytes(stored.data) if stored is not None and stored.typed else None,
        dead_letter=dead_letter,
    )
    if outcome is not None:
        info = msgspec.structs.replace(
            info,
            fingerprint=info.fingerprint or outcome.fingerprint or None,
            attempts=outcome.attempts,
            deliveries=outcome.deliveries,
            enqueued_at=info.enqueued_at or outcome.enqueued_at or None,
            started_at=outcome.started_at or None,
            finished_at=outcome.finished_at or None,
            error=outcome.error,
            result=bytes(outcome.value) if outcome.status is TaskStatus.DONE else None,
        )
    return info


def _started(beats: Any, task_id: str) -> int | None:
    if not isinstance(beats, dict):
        return None
    for raw in beats.values():
        try:
            at = HEARTBEAT.decode(raw).tasks.get(task_id)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        if at is not None:
            return at
    return None


def _envelope(raw: bytes | None) -> Envelope | None:
    if not raw:
        return None
    try:
        return ENVELOPE.decode(unverified(raw))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _outcome(raw: bytes | None) -> Outcome | None:
    if not raw:
        return None
    try:
        return OUTCOME.decode(unverified(raw))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _int(raw: bytes | None) -> int:
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def _entry_ms(entry: bytes | str) -> int:
    return int(_text(entry).split("-", 1)[0])


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _glob(text: str) -> str:
    """``text`` with the glob characters of a SCAN pattern escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
