"""Running delivered tasks: decode, call the handler under its timeout, and record how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any

import msgspec

from taskgen.runtime.binding import Binding
from taskgen.runtime.completion import CompletionSink
from taskgen.runtime.context import TaskContext
from taskgen.runtime.delivery import Delivery
from taskgen.runtime.endings import retry_record
from taskgen.runtime.errors import RetryLater, SignatureRefused
from taskgen.runtime.failures import (
    MAX_RESULT_BYTES,
    clean,
    decoding_problem,
    encode_result,
    error_info,
    misfit,
    retry_delay,
)
from taskgen.runtime.injection import NO_EXTRAS
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.limits import MAX_ENVELOPE_BYTES, oversized
from taskgen.runtime.observe import (
    Ending,
    Run,
    TaskObserver,
    notify_ended,
    notify_started,
    overrides,
)
from taskgen.runtime.progress import ProgressSink
from taskgen.runtime.recording import EndingRecorder
from taskgen.runtime.recycling import Recycler
from taskgen.runtime.signed_entries import envelope_if_any, keyless_envelope, opened_envelope
from taskgen.runtime.signing import Signing
from taskgen.runtime.slots import Slots
from taskgen.runtime.stopping import stop_tasks
from taskgen.runtime.tally import tally_for
from taskgen.runtime.wire import (
    ENVELOPE,
    NONE_VALUE,
    ErrorInfo,
    TaskStatus,
    now_ms,
)

__all__ = ["Delivery", "Executor", "error_info", "retry_delay"]

log = logging.getLogger("taskgen.worker")

#: Why the worker cancelled a running task.
TIMEOUT, ABORT, SHUTDOWN = "timeout", "abort", "shutdown"

#: How long an abort request is remembered for a task this worker has not seen yet.
ABORT_MEMORY = 60.0


class Executor(EndingRecorder):
    """Runs deliveries, one slot each, and hands every outcome to the completer."""

    def __init__(
        self,
        bindings: dict[str, Binding[Any, Any]],
        completer: CompletionSink,
        slots: Slots,
        threads: ThreadPoolExecutor,
        *,
        state: Any = None,
        max_result_bytes: int = MAX_RESULT_BYTES,
        max_envelope_bytes: int = MAX_ENVELOPE_BYTES,
        max_deliveries: int | None = None,
        recycler: Recycler | None = None,
        observers: Sequence[TaskObserver] = (),
        reporter: ProgressSink | None = None,
        signing: Signing | None = None,
    ) -> None:
        self.bindings = bindings
        self.completer = completer
        self.slots = slots
        self.threads = threads
        self.state = state
        self.max_result_bytes = max_result_bytes
        #: An entry longer than this is dead-lettered by its length, never decoded.
        self.max_envelope_bytes = max_envelope_bytes
        #: A delivery beyond this many is dead-lettered unrun: its workers keep dying.
        self.max_deliveries = max_deliveries
        self.recycler = recycler
        #: Told about every run's start and ending (metrics, traces, logs, the heartbeat).
        self.observers = tuple(observers)
        #: Those told of every run; the others only of runs that did not simply succeed.
        self.every_runners = tuple(o for o in self.observers if o.every_run())
        #: Those that act on a start (the outcome log, for one, only on endings).
        self.starters = tuple(o for o in self.every_runners if overrides(o, "started"))
        #: Whether any is told of every run: if not, a task that succeeds makes no ``Run``.
        self.every_run = bool(self.every_runners)
        #: Deliveries not yet ended, per queue and entry id: their leases are renewed.
        self.inflight: dict[QueueKeys, dict[bytes, Delivery]] = {}
        #: Where plain successes are counted, in batches, for observers that want totals.
        self.tally = tally_for(self.observers, self.every_runners, self.inflight)
        self.idle = asyncio.Event()
        self.idle.set()
        self._aborts: dict[str, float] = {}
        #: Runs ended (retries included), and of those how many did not end done: the
        #: heartbeat's counters, kept here as plain increments (an observer costs more).
        self.processed = 0
        self.failed = 0
        #: Where handlers' ``ctx.progress()`` reports go (the worker's: the completer).
        self.reporter = reporter
        #: Envelopes are checked before they are decoded, and outcomes signed (``signing``).
        self.signing = signing

    # -- receiving -------------------------------------------------------------------------

    def hold(self, delivery: Delivery) -> None:
        """Track a delivery from the moment it is received, so its lease is renewed."""
        self.inflight.setdefault(delivery.keys, {})[delivery.entry] = delivery
        self.idle.clear()

    def start(self, delivery: Delivery) -> None:
        """Run a held delivery in the slot its reader took for it.

        Never raises: an entry that cannot be run (a poison entry) is dead-lettered with the
        reason, and the worker goes on with the next one."""
        if self.recycler is not None and self.recycler.spent:
            # This process has run its share and is stopping: the entry is handed back.
            self._forget(delivery)
            return
        try:
            self._start(delivery)
        except Exception as exc:
            try:
                reason = f"the entry cannot be started: {error_info(exc).message}"
                self._reject(delivery, "?", reason, "BadEntry")
            except Exception as failure:
                self._abandon(delivery, failure)

    def _start(self, delivery: Delivery) -> None:
        if self.max_deliveries is not None and delivery.redeliveries >= self.max_deliveries:
            self._poisoned(delivery, self.max_deliveries)
            return
        if len(delivery.payload) > self.max_envelope_bytes:
            self._reject(
                delivery, "?", oversized(len(delivery.payload), self.max_envelope_bytes), "TooLarge"
            )
            return
        try:
            if self.signing is None:
                envelope = delivery.envelope = ENVELOPE.decode(delivery.payload)
            else:
                envelope = delivery.envelope = opened_envelope(self.signing, delivery)
        except SignatureRefused as refused:
            self._reject(delivery, "?", str(refused), refused.kind)
            return
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            keyless = None if self.signing else keyless_envelope(delivery.payload)
            if keyless is None:
                self._reject(
                    delivery,
                    "?",
                    f"the envelope cannot be decoded: {decoding_problem(exc)}",
                    "BadEnvelope",
                )
                return
            envelope = delivery.envelope = keyless
        binding = self.bindings.get(envelope.task)
        if binding is None:
            known = ", ".join(sorted(self.bindings)) or "none"
            self._reject(
                delivery,
                envelope.task,
                f"no handler for task {envelope.task!r} on this worker (it runs: {known}); "
                "deploy a worker built from a contract that declares it",
                "UnknownTask",
            )
            return
        if self._aborts and envelope.id in self._aborts:
            self._end(delivery, TaskStatus.ABORTED, error=ErrorInfo("Aborted", "aborted"))
            return
        if envelope.expires_at and now_ms() > envelope.expires_at:
            self._end(
                delivery,
                TaskStatus.EXPIRED,
                error=ErrorInfo("Expired", "not started before its expiry; dropped"),
            )
            return
        try:
            args = binding.task.args_decoder.decode(envelope.args)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            self._reject(
                delivery,
                envelope.task,
                misfit(decoding_problem(exc), envelope.fingerprint, binding.task.fingerprint),
                "InvalidArguments",
            )
            return
        context = binding.context_type(
            envelope.id,
            envelope.task,
            delivery.keys.queue,
            envelope.attempt,
            delivery.redeliveries + 1,
            envelope.enqueued_at,
            self.state,
            self.reporter,
            binding.task.progress,
        )
        if self.every_run:
            delivery.run = Run(
                envelope.task,
                envelope.id,
                delivery.keys.queue,
                envelope.attempt,
                delivery.redeliveries + 1,
                envelope.enqueued_at,
                envelope.trace,
            )
        loop = asyncio.get_running_loop()
        delivery.runner = loop.create_task(self._run(delivery, binding, context, args, loop))

    # -- running ---------------------------------------------------------------------------

    async def _run(
        self,
        delivery: Delivery,
        binding: Binding[Any, Any],
        context: TaskContext,
        args: Any,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        if binding.timeout is not None:
            delivery.timer = loop.call_later(binding.timeout, self._cancel, delivery, TIMEOUT)
        delivery.started_at = now_ms()
        if self.observers:
            delivery.began = perf_counter()
            if delivery.run is not None:
                delivery.run.started = delivery.began
                # In the task's own context: what observers make current, the handler runs under.
                notify_started(self.starters, delivery.run)
        try:
            try:
                if binding.resolver is None and binding.is_async:  # the common case, inlined
                    value = await binding.call(context, args, NO_EXTRAS)
                elif binding.resolver is None:
                    value = await self._call(binding, context, args, NO_EXTRAS)
                else:
                    # Injected extras (e.g. FastAPI yield dependencies) are cleaned up once the
                    # handler has ended, whether it returned or raised.
                    async with contextlib.AsyncExitStack() as cleanups:
                        extras = await binding.resolver(context, cleanups)
                        value = await self._call(binding, context, args, extras)
            except asyncio.CancelledError:
                self._cancelled(delivery, binding)
            except RetryLater as exc:
                self._failed(delivery, binding, error_info(exc), TaskStatus.FAILED, delay=exc.delay)
            except BaseException as exc:
                # KeyboardInterrupt, SystemExit, GeneratorExit and custom BaseExceptions too:
                # whatever a handler raises ends its task, and never the worker.
                self._failed(delivery, binding, error_info(exc), TaskStatus.FAILED)
            else:
                self._returned(delivery, binding, value)
        except BaseException as exc:
            # Recording the ending failed: end the task plainly rather than hold it forever.
            self._end_anyway(delivery, exc)
        finally:
            if delivery.timer is not None:
                delivery.timer.cancel()

    def _returned(self, delivery: Delivery, binding: Binding[Any, Any], value: Any) -> None:
        if value is None and binding.plain_result is NONE_TYPE:
            self._done(delivery, binding, NONE_VALUE)
            return
        encoded = encode_result(binding, value, self.max_result_bytes)
        if isinstance(encoded, bytes):
            self._done(delivery, binding, msgspec.Raw(encoded))
        elif encoded.type == "ResultTooLarge":
            # Trying again would build the same value again: fail now, and keep it out of Redis.
            self._end(delivery, TaskStatus.FAILED, error=encoded, dead="result too large")
        else:
            self._failed(delivery, binding, encoded, TaskStatus.FAILED)

    async def _call(
        self, binding: Binding[Any, Any], context: TaskContext, args: Any, extras: Mapping[str, Any]
    ) -> Any:
        if binding.is_async:
            return await binding.call(context, args, extras)
        loop = asyncio.get_running_loop()
        # The thread runs in a copy of the task's context (as asyncio.to_thread does), so
        # context variables such as the current trace span reach sync handlers too.
        run = contextvars.copy_context().run
        return await loop.run_in_executor(self.threads, run, binding.call, context, args, extras)

    def _cancelled(self, delivery: Delivery, binding: Binding[Any, Any]) -> None:
        reason = delivery.cancelled
        if reason == SHUTDOWN:
            # Not ended: the entry stays pending and is handed back by the shutdown.
            if self.tally is not None:
                self.tally.interrupt(self.bindings, delivery)
            self._forget(delivery)
        elif reason == ABORT:
            self._end(
                delivery, TaskStatus.ABORTED, error=ErrorInfo("Aborted", "aborted while running")
            )
        elif reason == TIMEOUT:
            kind = (
                "its thread runs on; its result is discarded"
                if not binding.is_async
                else "cancelled"
            )
            error = ErrorInfo(
                "TimeoutError", f"ran longer than its timeout of {binding.timeout:g} s ({kind})"
            )
            self._failed(delivery, binding, error, TaskStatus.TIMED_OUT)
        else:
            error = ErrorInfo(
                "CancelledError",
                "the handler raised CancelledError itself (no abort, timeout or shutdown asked "
                "for it)",
            )
            self._failed(delivery, binding, error, TaskStatus.FAILED)

    def _cancel(self, delivery: Delivery, reason: str) -> None:
        if delivery.runner is not None and not delivery.runner.done():
            delivery.cancelled = reason
            delivery.runner.cancel()

    def abort(self, task_id: str) -> None:
        """Cancel the task if it runs here, and remember the request in case it comes later."""
        now = time.monotonic()
        self._aborts = {t: at for t, at in self._aborts.items() if now - at < ABORT_MEMORY}
        self._aborts[task_id] = now
        for deliveries in self.inflight.values():
            for delivery in deliveries.values():
                if delivery.envelope is not None and delivery.envelope.id == task_id:
                    self._cancel(delivery, ABORT)

    # -- ending ----------------------------------------------------------------------------

    def _failed(
        self,
        delivery: Delivery,
        binding: Binding[Any, Any],
        error: ErrorInfo,
        status: TaskStatus,
        *,
        delay: float | None = None,
    ) -> None:
        envelope = delivery.envelope
        assert envelope is not None
        if envelope.attempt < binding.retry.attempts:
            wait = retry_delay(binding.retry, envelope.attempt) if delay is None else delay
            following = msgspec.structs.replace(envelope, attempt=envelope.attempt + 1)
            self.failed += 1
            self._record(delivery, retry_record(delivery, following, wait, self.signing))
            if self.observers:
                ending = Ending(status, error, retrying=True, retry_in=wait)
                notify_ended(self.observers, delivery.observed(), ending)
            return
        reason = "retries exhausted" if binding.retry.attempts > 1 else "failed"
        self._end(delivery, status, error=error, ttl=binding.task.result_ttl, dead=reason)

    def _reject(self, delivery: Delivery, task: str, reason: str, kind: str) -> None:
        reason = clean(reason)
        self._end(
            delivery,
            TaskStatus.REJECTED,
            error=ErrorInfo(kind, reason),
            dead=reason,
            task=task,
        )

    def _poisoned(self, delivery: Delivery, limit: int) -> None:
        """Dead-letter an entry whose workers keep dying (or stopping) before it ends."""
        if len(delivery.payload) <= self.max_envelope_bytes:
            delivery.envelope = envelope_if_any(self.signing, delivery)
        reason = (
            f"delivered {delivery.redeliveries + 1} times: the {delivery.redeliveries} workers "
            "that took it before died or stopped before it ended (a task that crashes its "
            f"worker?), and the limit is {limit} (Worker(max_deliveries=...)); not run again"
        )
        self._end(
            delivery, TaskStatus.FAILED, error=ErrorInfo("TooManyDeliveries", reason), dead=reason
        )

    # -- shutting down ---------------------------------------------------------------------

    async def drain(self, grace: float) -> set[bytes]:
        """Let running tasks finish for up to ``grace`` seconds, then cancel the rest.

        Returns the ids of the tasks that had started but did not end: handing them back
        counts as a redelivery."""
        if not self.idle.is_set():
            try:
                async with asyncio.timeout(grace):
                    await self.idle.wait()
            except TimeoutError:
                pass
        interrupted: set[bytes] = set()
        runners: list[asyncio.Future[Any]] = []
        for deliveries in self.inflight.values():
            for delivery in list(deliveries.values()):
                if delivery.runner is not None and not delivery.runner.done():
                    interrupted.add(delivery.task_id)
                    self._cancel(delivery, SHUTDOWN)
                    runners.append(delivery.runner)
                else:
                    self._forget(delivery)
        await stop_tasks(runners)  # a handler that swallows one cancellation gets another
        if self.tally is not None:
            self.tally.close()
        return interrupted


NONE_TYPE = type(None)
