"""The worker: serves the queues of its bound tasks until stopped, losing nothing on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry as CommandRetry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisError

from taskgen.runtime.binding import Binding, prepare_bindings
from taskgen.runtime.completion import Completer
from taskgen.runtime.connection import redis_from_url
from taskgen.runtime.control import ControlListener
from taskgen.runtime.cron import Cron, CronScheduler
from taskgen.runtime.execution import Executor
from taskgen.runtime.failures import MAX_RESULT_BYTES
from taskgen.runtime.faults import (
    CONNECT_TIMEOUT,
    OUTAGE,
    SOCKET_TIMEOUT,
    Backoff,
    check_eviction_policy,
    create_groups,
    describe,
    join_groups,
    missing_group,
    pause,
    redact,
)
from taskgen.runtime.heartbeat import HeartbeatWriter
from taskgen.runtime.injection import Injector
from taskgen.runtime.keys import DEFAULT_PREFIX, DEFAULT_URL, GROUP, QueueKeys, queues_key
from taskgen.runtime.lease import LeaseKeeper
from taskgen.runtime.limits import MAX_ENVELOPE_BYTES, checked_limit
from taskgen.runtime.observe import TaskObserver
from taskgen.runtime.outcome_log import OutcomeLog
from taskgen.runtime.progress import ProgressReporter
from taskgen.runtime.reader import QueueReader
from taskgen.runtime.recycling import Recycler
from taskgen.runtime.registry_publisher import RegistryPublisher
from taskgen.runtime.relay import Relay
from taskgen.runtime.scheduler import Scheduler
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.signing import Signing
from taskgen.runtime.slots import Slots
from taskgen.runtime.stopping import stop_tasks
from taskgen.runtime.tls import tls_refusal
from taskgen.runtime.tracing import worker_spans
from taskgen.runtime.wire import new_task_id
from taskgen.vocabulary import Retry

log = logging.getLogger("taskgen.worker")

HAND_BACK_FAILED = (
    "could not hand this worker's pending tasks back (%s): another worker takes them over "
    "once their lease expires"
)

Lifespan = Callable[[], AbstractAsyncContextManager[Any]]


class Worker:
    """Runs the handlers bound to it, reading every queue their tasks use."""

    def __init__(
        self,
        bindings: Iterable[Binding[Any, Any]],
        *,
        redis_url: str = DEFAULT_URL,
        concurrency: int = 32,
        lease: float = 5.0,
        grace: float = 10.0,
        threads: int | None = None,
        lifespan: Lifespan | None = None,
        queues: Iterable[str] | None = None,
        cron: Iterable[Cron[Any]] = (),
        retries: Mapping[str, Retry] | None = None,
        timeouts: Mapping[str, float | None] | None = None,
        injector: Injector | None = None,
        prefix: str = DEFAULT_PREFIX,
        dead_letter_cap: int = 100_000,
        allow_eviction: bool = False,
        max_result_bytes: int = MAX_RESULT_BYTES,
        max_envelope_bytes: int = MAX_ENVELOPE_BYTES,
        max_deliveries: int | None = 5,
        max_tasks: int | None = None,
        max_memory_mb: int | None = None,
        observers: Iterable[TaskObserver] = (),
        tracing: bool | None = None,
        signing: Signing | None = None,
    ) -> None:
        if lease <= 0 or grace < 0:
            raise ValueError("lease must be > 0 and grace >= 0 seconds")
        if max_result_bytes < 1 or (max_deliveries is not None and max_deliveries < 1):
            raise ValueError("max_result_bytes and max_deliveries (None: no limit) must be >= 1")
        bound = prepare_bindings(bindings, injector)
        self.injector = injector
        self.bindings = _with_policies(bound, retries or {}, timeouts)
        self.cron = list(cron)
        self.queues = sorted(set(queues) if queues else {b.task.queue for b in bound.values()})
        self.redis_url = redis_url
        self.concurrency = concurrency
        self.lease = lease
        self.grace = grace
        self.threads = threads or min(32, concurrency)
        self.lifespan = lifespan
        self.prefix = prefix
        self.dead_letter_cap = dead_letter_cap
        #: Run even if Redis may evict keys (its maxmemory-policy is not noeviction).
        self.allow_eviction = allow_eviction
        #: Limits on what one task may do to a worker (see docs/runtime.md, "Handler outcomes").
        self.max_result_bytes = max_result_bytes
        self.max_envelope_bytes = checked_limit("max_envelope_bytes", max_envelope_bytes)
        self.max_deliveries = max_deliveries
        #: Stop after this many tasks ended, so ``--max-tasks-per-process`` recycles the process.
        self.max_tasks = max_tasks
        #: ... or once its resident memory exceeds this many MiB (checked every few tasks).
        self.max_memory_mb = max_memory_mb
        #: True once the worker stopped because it had run its share (the CLI exits with 75).
        self.spent = False
        #: Told about every task run (see ``taskgen.runtime.observe``): metrics, traces, logs.
        self.observers = list(observers)
        #: OpenTelemetry spans per run: None traces once the application set a tracer provider.
        self.tracing = tracing
        #: Check every envelope's signature before decoding it, sign outcomes, retries and
        #: cron tasks (docs/deployment.md, "Signing"); None: sign and check nothing.
        self.signing = signing
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{new_task_id()[:8]}"
        self._stop: asyncio.Event | None = None
        self._stop_asked = False

    def stop(self) -> None:
        """Stop fetching; running tasks get ``grace`` seconds, the rest are handed back."""
        if self._stop is not None:
            self._stop.set()
        else:  # not running yet: the next run() returns at once
            self._stop_asked = True

    def _recycler(self) -> Recycler | None:
        if self.max_tasks is None and self.max_memory_mb is None:
            return None
        memory = self.max_memory_mb * 2**20 if self.max_memory_mb is not None else None
        return Recycler(self._spent, max_tasks=self.max_tasks, max_memory=memory)

    def _observers(self) -> list[TaskObserver]:
        """Every worker's outcome log, the user's observers, and spans if the app traces."""
        observers: list[TaskObserver] = [OutcomeLog(), *self.observers]
        spans = worker_spans(self.tracing, GROUP)
        if spans is not None:
            observers.append(spans)
        return observers

    def _spent(self) -> None:
        self.spent = True
        self.stop()

    def main(self, *, burst: bool = False) -> None:
        """Run in a new event loop until SIGTERM or SIGINT (a second one skips the grace)."""

        async def serve() -> None:
            loop = asyncio.get_running_loop()
            signals = 0

            def on_signal() -> None:
                nonlocal signals
                signals += 1
                if signals > 1:
                    self.grace = 0
                log.info("stopping: finishing running tasks for up to %gs", self.grace)
                self.stop()

            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, on_signal)
            await self.run(burst=burst)

        asyncio.run(serve())

    async def run(self, *, burst: bool = False) -> None:
        """Serve until ``stop()`` (or, with ``burst``, until every queue is empty)."""
        self._stop = asyncio.Event()
        if self._stop_asked:
            self._stop_asked = False
            return
        redis = redis_from_url(
            self.redis_url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=CONNECT_TIMEOUT,
            # One quick retry on a fresh connection (a pooled one may be stale after a
            # restart); beyond that, each loop backs off on its own.
            retry=CommandRetry(NoBackoff(), 1),
            retry_on_error=[ConnectionError],
        )
        try:
            if await self._connect(redis):
                async with self._state() as state:
                    await self._serve(redis, Scripts(redis), state, burst=burst)
        finally:
            await redis.aclose()

    async def _connect(self, redis: Redis) -> bool:
        """Wait for Redis (retrying with backoff), check its eviction policy, create the groups.

        Returns False if stopped before Redis answered."""
        assert self._stop is not None
        backoff = Backoff(first=0.1)
        while not self._stop.is_set():
            try:
                if not self.allow_eviction:
                    await check_eviction_policy(redis, self.redis_url)
                for queue in self.queues:
                    keys = QueueKeys(queue, self.prefix)
                    await create_groups(redis, keys)
                    await join_groups(redis, keys, self.consumer)
                # So `taskgen status` and the dashboard find the queues without a SCAN.
                await redis.sadd(queues_key(self.prefix), *self.queues)
                return True
            except OUTAGE as exc:
                refusal = tls_refusal(exc, self.redis_url)
                if refusal is not None:
                    raise refusal from None
                delay = backoff.next()
                log.warning(
                    "cannot reach Redis at %s, retrying in %.2fs: %s",
                    redact(self.redis_url),
                    delay,
                    describe(exc),
                )
                await pause(self._stop, delay)
        return False

    @contextlib.asynccontextmanager
    async def _state(self) -> AsyncIterator[Any]:
        """The injector's lifespan (e.g. the FastAPI app's), then the worker's own."""
        async with contextlib.AsyncExitStack() as stack:
            if self.injector is not None:
                await stack.enter_async_context(self.injector.lifespan())
            if self.lifespan is None:
                yield None
            else:
                yield await stack.enter_async_context(self.lifespan())

    async def _serve(self, redis: Redis, scripts: Scripts, state: Any, *, burst: bool) -> None:
        assert self._stop is not None
        queues = [QueueKeys(q, self.prefix) for q in self.queues]
        slots = Slots(self.concurrency)
        relay = Relay(redis, scripts, self.prefix, self.signing)
        completer = Completer(
            redis, scripts, dead_letter_cap=self.dead_letter_cap, relay=relay.submit
        )
        threads = ThreadPoolExecutor(self.threads, thread_name_prefix="taskgen-handler")
        executor = Executor(
            self.bindings,
            completer,
            slots,
            threads,
            state=state,
            max_result_bytes=self.max_result_bytes,
            max_envelope_bytes=self.max_envelope_bytes,
            max_deliveries=self.max_deliveries,
            recycler=self._recycler(),
            observers=self._observers(),
            reporter=ProgressReporter(completer.add_progress, queues),
            signing=self.signing,
        )
        heartbeat = HeartbeatWriter(
            executor,
            queues=self.queues,
            concurrency=self.concurrency,
            fingerprints={name: b.task.fingerprint for name, b in self.bindings.items()},
        )
        readers = [
            QueueReader(
                keys,
                redis,
                scripts,
                executor,
                slots,
                consumer=self.consumer,
                batch=self.concurrency,
            )
            for keys in queues
        ]
        schedulers = {keys.queue: Scheduler(keys, scripts) for keys in queues}
        leases = LeaseKeeper(
            queues,
            redis,
            scripts,
            executor,
            slots,
            consumer=self.consumer,
            lease=self.lease,
            batch=self.concurrency,
            heartbeat=heartbeat.record,
        )
        control = ControlListener(redis, schedulers, executor)
        # The contract registry: clients see this worker's tasks before it reads any.
        registry = RegistryPublisher(
            redis, queues, self.bindings, worker=self.consumer, prefix=self.prefix
        )
        await registry.join()
        background = [
            asyncio.create_task(registry.run(), name="taskgen-registry"),
            asyncio.create_task(completer.run(), name="taskgen-completer"),
            asyncio.create_task(leases.run(), name="taskgen-leases"),
            asyncio.create_task(control.run(), name="taskgen-control"),
            asyncio.create_task(relay.sweep(queues), name="taskgen-relay"),
            *(
                asyncio.create_task(s.run(), name=f"taskgen-scheduler-{q}")
                for q, s in schedulers.items()
            ),
        ]
        if self.cron:
            jobs = CronScheduler(self.cron, scripts, self.prefix, self.signing)
            background.append(asyncio.create_task(jobs.run(), name="taskgen-cron"))
        log.info(
            "worker %s serving %s with concurrency %d",
            self.consumer,
            ", ".join(self.queues),
            self.concurrency,
        )
        if self.signing is not None:
            log.info("checking every task's signature and signing outcomes: %r", self.signing)
        reading: list[asyncio.Task[int]] = []
        try:
            if burst:
                await self._until_empty(readers, executor, completer, background)
            else:
                reading = [
                    asyncio.create_task(r.run(), name=f"taskgen-reader-{r.keys.queue}")
                    for r in readers
                ]
                await _until(self._stop, [*reading, *background])
        finally:
            await stop_tasks(reading)
            leases.stop_taking()
            interrupted = await executor.drain(self.grace)
            # Outcomes get a bounded time to be written, so a stop during an outage ends.
            patience = max(1.0, self.grace)
            if not await completer.flush(patience):
                log.warning(
                    "could not store the outcomes of %d task(s) within %gs, Redis is "
                    "unreachable: their tasks will run again once their lease expires",
                    completer.waiting,
                    patience,
                )
            await relay.drain(patience)
            await stop_tasks(background)
            await self._release(redis, scripts, queues, interrupted, patience)
            await registry.leave(patience)
            threads.shutdown(wait=False, cancel_futures=True)
            log.info("worker %s stopped", self.consumer)

    async def _until_empty(
        self,
        readers: list[QueueReader],
        executor: Executor,
        completer: Completer,
        background: list[asyncio.Task[None]],
    ) -> None:
        """Burst mode: read until a pass over every queue, after all tasks ended, finds nothing."""
        assert self._stop is not None
        while not self._stop.is_set():
            passes = [asyncio.create_task(r.run(burst=True)) for r in readers]
            try:
                await _until(self._stop, [*passes, *background], all_of=passes)
            finally:
                await stop_tasks(passes)
            if self._stop.is_set() or not any(p.result() for p in passes):
                return
            # Tasks that just ended may have enqueued or retried work: wait, then look again.
            await executor.idle.wait()
            await completer.flush()

    async def _release(
        self,
        redis: Redis,
        scripts: Scripts,
        queues: list[QueueKeys],
        interrupted: set[bytes],
        patience: float,
    ) -> None:
        """Hand back everything still pending for this consumer, then remove the consumer.

        Gives up after ``patience`` seconds of an unreachable Redis: the entries then stay
        pending and are taken over by another worker once their lease expires."""
        try:
            async with asyncio.timeout(patience):
                for keys in queues:
                    await self._hand_back(redis, scripts, keys, interrupted)
        except TimeoutError:
            log.warning(HAND_BACK_FAILED, f"Redis did not answer within {patience:g}s")
        except OUTAGE as exc:
            log.warning(HAND_BACK_FAILED, describe(exc))

    async def _hand_back(
        self, redis: Redis, scripts: Scripts, keys: QueueKeys, interrupted: set[bytes]
    ) -> None:
        try:
            handed = await scripts.release(
                keys=keys.streams, args=[GROUP, self.consumer, keys.base, *interrupted]
            )
        except RedisError as exc:
            if not missing_group(exc):
                raise
            return  # the group is gone (a flush): nothing of this worker's is pending
        if handed:
            log.info("handed %d task(s) of %s back to the queue", handed, keys.queue)
        async with redis.pipeline(transaction=False) as pipe:
            for stream in keys.streams:
                pipe.xgroup_delconsumer(stream, GROUP, self.consumer)
            pipe.zrem(keys.alive, self.consumer)
            pipe.hdel(keys.heartbeats, self.consumer)
            await pipe.execute(raise_on_error=False)


async def _until(
    stop: asyncio.Event,
    tasks: list[asyncio.Task[Any]],
    *,
    all_of: list[asyncio.Task[Any]] | None = None,
) -> None:
    """Wait for ``stop`` (or for every task in ``all_of``); a task that fails is raised."""
    stopping = asyncio.create_task(stop.wait())
    try:
        pending = {stopping, *tasks}
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = None if task is stopping or task.cancelled() else task.exception()
                if error is not None:
                    raise error
            if stopping in done:
                return
            if all_of is not None and all(t.done() for t in all_of):
                return
    finally:
        stopping.cancel()


def _with_policies(
    bindings: dict[str, Binding[Any, Any]],
    retries: Mapping[str, Retry],
    timeouts: Mapping[str, float | None] | None,
) -> dict[str, Binding[Any, Any]]:
    """The bindings with the worker's own retry and timeout policies, by wire name."""
    unknown = (set(retries) | set(timeouts or {})) - set(bindings)
    if unknown:
        raise ValueError(
            f"retries/timeouts name unknown tasks {sorted(unknown)}; "
            f"this worker runs {sorted(bindings)}"
        )
    for name, binding in bindings.items():
        if name in retries:
            binding.retry = retries[name]
        if timeouts is not None and name in timeouts:
            binding.timeout = timeouts[name]
    return bindings
