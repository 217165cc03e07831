"""The asyncio client: enqueue tasks in one round trip and await their outcomes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Self, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskgen.runtime import tracing
from taskgen.runtime.backend import Backend, RedisBackend
from taskgen.runtime.batch import Chunk, encode_calls, incomplete, was_created
from taskgen.runtime.cluster import is_cluster_client
from taskgen.runtime.connection import async_redis
from taskgen.runtime.errors import SignatureRefused
from taskgen.runtime.handle import TaskHandle
from taskgen.runtime.keys import DEFAULT_PREFIX, QueueKeys
from taskgen.runtime.limits import MAX_ENVELOPE_BYTES, checked_limit
from taskgen.runtime.progress import Progress, decode_progress
from taskgen.runtime.registry import MODES, Mode
from taskgen.runtime.registry_cache import RegistryCache
from taskgen.runtime.results import RECHECK
from taskgen.runtime.signing import Signing, unverified
from taskgen.runtime.taskdef import NO_OPTIONS, Call, EnqueueOptions, TaskDef, pack_call
from taskgen.runtime.wire import ENCODER, OUTCOME, ErrorInfo, Outcome, TaskStatus, now_ms

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")


class Client:
    """Enqueues tasks and awaits their outcomes; one per process, shared by all callers.

    ``redis``: the server (or any ``Backend``: ``taskgen.testing.EagerClient`` passes its
    in-process one, which has no registry). ``recheck``: seconds after which a waiter reads
    its task's stored outcome again, in case the message that should have woken it was lost.
    ``registry`` says what to do with a task no live worker can decode, or whose queue no
    worker serves (see ``registry_cache``): ``warn`` (the default) refuses the first and warns
    of the second, ``strict`` refuses both, ``off`` consults nothing. ``max_envelope_bytes``:
    a task whose encoded envelope is larger is refused with ``PayloadTooLarge``, unsent.
    ``signing``: sign every envelope, and refuse (``SignatureRefused``) any outcome not signed
    by an accepted key for its task (docs/deployment.md, "Signing")."""

    def __init__(
        self,
        redis: Redis | Backend,
        *,
        prefix: str = DEFAULT_PREFIX,
        close_redis: bool = False,
        recheck: float = RECHECK,
        registry: Mode = "warn",
        max_envelope_bytes: int = MAX_ENVELOPE_BYTES,
        signing: Signing | None = None,
    ):
        if registry not in MODES:
            raise ValueError(f"registry={registry!r}: use one of {', '.join(MODES)}")
        self.prefix = prefix
        self.max_envelope_bytes = checked_limit("max_envelope_bytes", max_envelope_bytes)
        if signing is not None and not isinstance(signing, Signing):
            raise TypeError(f"signing={signing!r}: give a taskgen.runtime.Signing, or None")
        self.signing = signing
        self._keys: dict[str, QueueKeys] = {}
        self._registry: RegistryCache | None = None
        if isinstance(redis, Redis) or is_cluster_client(redis):
            self._backend: Backend = RedisBackend(
                redis, prefix, recheck=recheck, close_redis=close_redis
            )
            if registry != "off":
                self._registry = RegistryCache(redis, prefix, registry)
        else:
            self._backend = redis

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        recheck: float = RECHECK,
        registry: Mode = "warn",
        max_envelope_bytes: int = MAX_ENVELOPE_BYTES,
        signing: Signing | None = None,
        **options: Any,
    ) -> Self:
        """A client with its own connection pool, closed by ``close()``; ``options`` override
        the pool's defaults (see ``taskgen.runtime.connection``)."""
        return cls(
            async_redis(url, **options),
            prefix=prefix,
            close_redis=True,
            recheck=recheck,
            registry=registry,
            max_envelope_bytes=max_envelope_bytes,
            signing=signing,
        )

    @property
    def backend(self) -> Backend:
        """Where this client's tasks go: Redis, or an in-process stand-in."""
        return self._backend

    @property
    def redis(self) -> Redis:
        """The Redis server this client uses."""
        if isinstance(self._backend, RedisBackend):
            return self._backend.redis
        raise AttributeError(f"{type(self).__name__} uses no Redis server")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop waiting for results and, if this client opened it, close the connection pool."""
        if self._registry is not None:
            await self._registry.close()
        await self._backend.close()

    def keys(self, queue: str) -> QueueKeys:
        """The Redis layout of ``queue``."""
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys(queue, self.prefix)
        return keys

    # -- enqueueing ------------------------------------------------------------------------

    async def enqueue(
        self, task: TaskDef[A, R], args: A, options: EnqueueOptions = NO_OPTIONS
    ) -> TaskHandle[R]:
        """Enqueue one task; one round trip to Redis."""
        if self._registry is not None and not self._registry.admits(task):
            await self._registry.check(task)
        keys = self.keys(task.queue)
        backend = self._backend
        reply = backend.reply
        span = tracing.sending(task.queue)
        trace = span.headers if span is not None else None
        task_id, record = pack_call(
            task,
            args,
            options,
            now_ms(),
            reply=reply,
            trace=trace,
            limit=self.max_envelope_bytes,
            signing=self.signing,
        )
        try:
            if task.flow is None:
                created: Sequence[int | bytes] = await backend.enqueue(keys, record)
            else:
                created = await backend.enqueue_flow(keys, record)
        except BaseException as exc:
            if span is not None:
                span.failed(exc)
            raise
        if span is not None:
            span.sent([task_id])
        if isinstance(created[0], bytes):  # its unique key belongs to that queued task
            return TaskHandle(self, task, created[0].decode(), created=False)
        ours = created[0] == 1 or options.task_id is None  # see batch.was_created
        if reply and ours:
            backend.expect(keys, task_id)
        return TaskHandle(self, task, task_id, created=ours)

    async def enqueue_many(self, calls: Iterable[Call[R]]) -> list[TaskHandle[R]]:
        """Enqueue many tasks, of any queues, in order: all are encoded first (one that cannot
        be raises ``EnqueueFailed`` before anything is sent), then one script call per 1,000
        tasks of a queue. If sending fails midway, ``EnqueueFailed.handles`` holds what went."""
        calls = list(calls)
        if self._registry is not None:
            await _consult(self._registry, calls)
        reply = self._backend.reply
        span = tracing.sending_calls(calls)
        try:
            headers = span.headers if span else None
            chunks = encode_calls(
                calls, now_ms(), reply, headers, self.max_envelope_bytes, self.signing
            )
            handles: list[TaskHandle[R]] = []
            for chunk in chunks:
                keys = self.keys(chunk.queue)
                created: Sequence[int | bytes]
                try:
                    if chunk.flow:
                        created = await self._backend.enqueue_flow(keys, chunk.records)
                    else:
                        created = await self._backend.enqueue(keys, chunk.records)
                except (RedisError, OSError) as exc:
                    total = sum(len(c.ids) for c in chunks)
                    raise incomplete(handles, chunk, total, exc) from exc
                handles += self._handles(chunk, created, reply)
        except BaseException as exc:
            if span is not None:
                span.failed(exc)
            raise
        if span is not None:
            span.sent([h.id for h in handles])
        return handles

    def _handles(
        self, chunk: Chunk, created: Sequence[int | bytes], reply: bytes
    ) -> list[TaskHandle[R]]:
        handles: list[TaskHandle[R]] = []
        keys = self.keys(chunk.queue)
        for call, task_id, flag in zip(chunk.calls, chunk.ids, created, strict=True):
            if isinstance(flag, bytes):  # its unique key belongs to that queued task
                handles.append(TaskHandle(self, call.task, flag.decode(), created=False))
                continue
            ours = was_created(call, flag)
            if reply and ours:
                self._backend.expect(keys, task_id)
            handles.append(TaskHandle(self, call.task, task_id, created=ours))
        return handles

    def handle(self, task: TaskDef[Any, R], task_id: str) -> TaskHandle[R]:
        """Re-attach to a task enqueued earlier, by its id."""
        return TaskHandle(self, task, task_id, created=False)

    # -- following a task ------------------------------------------------------------------

    async def wait_outcome(self, queue: str, task_id: str, timeout: float | None) -> bytes | None:
        """The encoded outcome of a task once it ends; None if ``timeout`` passes first."""
        return await self._backend.wait(self.keys(queue), task_id, timeout)

    def outcome(self, queue: str, task_id: str, raw: bytes) -> Outcome:
        """A task's stored outcome, decoded once its signature checks out (with ``signing``);
        ``SignatureRefused`` naming the task if it is unsigned or forged."""
        signing = self.signing
        if signing is None:
            return OUTCOME.decode(unverified(raw))
        try:
            opened = signing.open_outcome(raw, queue, task_id.encode())
        except SignatureRefused as refused:
            raise SignatureRefused(
                f"task {task_id} of queue {queue}: its outcome was refused, {refused}; it was "
                "not written by a worker holding this client's signing key (see docs/"
                "deployment.md, Signing)",
                kind=refused.kind,
                task_id=task_id,
            ) from None
        return OUTCOME.decode(opened)

    async def status(self, queue: str, task_id: str) -> TaskStatus:
        """Where a task is now."""
        return await self._backend.status(self.keys(queue), task_id)

    async def progress(self, queue: str, task_id: str) -> Progress | None:
        """A task's latest progress report; None before its first (or once its result expired)."""
        return decode_progress(await self._backend.progress(self.keys(queue), task_id))

    async def progress_record(self, queue: str, task_id: str) -> bytes | None:
        """A task's latest stored progress report, encoded (either kind: see ``progress``)."""
        return await self._backend.progress(self.keys(queue), task_id)

    async def abort(self, task: TaskDef[Any, Any], task_id: str) -> bool:
        """Abort a task; False when it had already ended or is unknown."""
        outcome = ENCODER.encode(aborted_outcome())
        if self.signing is not None:
            outcome = self.signing.sign_outcome(outcome, task.queue, task_id.encode())
        ttl_ms = round(task.result_ttl * 1000)
        return await self._backend.abort(self.keys(task.queue), task_id, outcome, ttl_ms)


async def _consult(registry: RegistryCache, calls: list[Call[Any]]) -> None:
    """Every distinct task of a batch past the registry before any of it is queued."""
    for task in dict.fromkeys(call.task for call in calls):
        if not registry.admits(task):
            await registry.check(task)


def aborted_outcome() -> Outcome:
    """The outcome a client records for a task it aborted before any worker ran it."""
    return Outcome(
        TaskStatus.ABORTED,
        error=ErrorInfo("Aborted", "aborted by a client before it ran"),
        finished_at=now_ms(),
        attempts=0,
        deliveries=0,
    )
