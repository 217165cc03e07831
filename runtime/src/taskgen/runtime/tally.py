"""Plain successes counted by the executor itself, in batches, for observers that want totals
(metrics) rather than a ``Run`` per task.

A success then costs its observers one call of ``Tally.done`` (a clock read, a key lookup and a
list append): no ``Run``, no observer call. The durations are handed over a batch at a time
(``Tallied``), when a batch is full and whenever an observer settles the tally
(``Tally.settle``, e.g. on a scrape), which it does in the worker's event loop, between two
task steps, so what it reads there is one consistent moment.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar

from taskgen.runtime.observe import TaskObserver, complain, overrides

if TYPE_CHECKING:
    from taskgen.runtime.binding import Binding
    from taskgen.runtime.delivery import Delivery
    from taskgen.runtime.keys import QueueKeys

__all__ = ["BATCH", "SETTLE_TIMEOUT", "Census", "Tallied", "Tally", "tally_for"]

#: Durations a batch holds before it is handed over: bounds the memory of an unread tally.
BATCH = 256

#: Seconds ``settle`` waits for a busy event loop before it reads without it.
SETTLE_TIMEOUT = 2.0

T = TypeVar("T")

#: (task, queue): a count.
Groups = dict[tuple[str, str], int]


class Tallied:
    """Runs of one task on one queue since the last hand-over: the plain successes' durations
    (seconds, from the handler's call to its ending), and runs a shutdown interrupted."""

    __slots__ = ("durations", "interrupted", "keys", "queue", "task")

    def __init__(self, task: str, keys: QueueKeys) -> None:
        self.task = task
        self.queue = keys.queue
        self.keys = keys
        self.durations: list[float] = []
        #: Runs that started and never ended: cancelled by a shutdown (handed back to the
        #: queue) or abandoned to their lease.
        self.interrupted = 0


class Census:
    """What a settled tally says of the runs in progress."""

    __slots__ = ("running",)

    def __init__(self, running: Groups) -> None:
        #: Runs whose handler was called and that have not ended, by (task, queue).
        self.running = running


def tally_for(
    observers: Sequence[TaskObserver],
    every_run: Sequence[TaskObserver],
    inflight: dict[QueueKeys, dict[bytes, Delivery]],
) -> Tally | None:
    """The tally of an executor whose ``observers`` include some that want totals (they are
    not told of ``every_run`` and take batches), else None."""
    talliers = [o for o in observers if o not in every_run and overrides(o, "tallied")]
    return Tally(talliers, inflight) if talliers else None


class Tally:
    """One executor's batches, by task and queue, and the observers they are handed to."""

    def __init__(
        self,
        observers: Sequence[TaskObserver],
        inflight: dict[QueueKeys, dict[bytes, Delivery]],
    ) -> None:
        self.observers = tuple(observers)
        #: The batch being filled of each task, for the queue it ran on last: one key lookup
        #: per success, as a task nearly always runs on one queue.
        self.batches: dict[Binding[Any, Any], Tallied] = {}
        #: The batches of a task on its other queues.
        self._elsewhere: dict[tuple[Binding[Any, Any], QueueKeys], Tallied] = {}
        self._inflight = inflight
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        #: Set once the executor has stopped and everything was handed over.
        self.closed = False
        for observer in self.observers:
            observer.counting(self)

    def batch(self, binding: Binding[Any, Any], keys: QueueKeys) -> Tallied:
        """The batch of a task on a queue, when it is not the one ``batches`` holds."""
        current = self.batches.get(binding)
        if current is not None and current.keys is keys:
            return current
        if current is not None:
            self._elsewhere[(binding, current.keys)] = current
        batch = self._elsewhere.pop((binding, keys), None) or Tallied(binding.task.name, keys)
        self.batches[binding] = batch
        return batch

    def hand_over(self, binding: Binding[Any, Any]) -> None:
        """Give the task's current batch to the observers; the next success starts another."""
        batch = self.batches.pop(binding, None)
        if batch is not None:
            self._give(batch)

    def done(self, binding: Binding[Any, Any], delivery: Delivery) -> None:
        """Count a plain success: its duration joins its task's batch (every success pays
        this, so it looks up one key, and compares its queue by identity)."""
        keys = delivery.keys
        try:
            batch = self.batches[binding]
        except KeyError:
            batch = self.batch(binding, keys)
        if batch.keys is not keys:
            batch = self.batch(binding, keys)
        durations = batch.durations
        durations.append(perf_counter() - delivery.began)
        if len(durations) >= BATCH:
            self.hand_over(binding)

    def interrupt(self, bindings: Mapping[str, Binding[Any, Any]], delivery: Delivery) -> None:
        """Count a run that started and ends without an ending (shutdown, abandoned)."""
        envelope = delivery.envelope
        binding = bindings.get(envelope.task) if envelope is not None else None
        if binding is not None and delivery.started_at:
            self.batch(binding, delivery.keys).interrupted += 1

    def close(self) -> None:
        """Hand everything over: the executor has stopped."""
        self._hand_over_all()
        self.closed = True

    def settle(self, read: Callable[[Census], T], timeout: float = SETTLE_TIMEOUT) -> T:
        """Hand every batch over, then ``read`` the census, in the event loop if it runs.

        From another thread (a scrape), it waits up to ``timeout`` for the loop; a loop stuck
        in a blocking handler is read without it, as it is."""
        loop = self._loop
        if self.closed or loop is None or loop.is_closed() or not loop.is_running():
            return self._settled(read)
        try:
            if asyncio.get_running_loop() is loop:
                return self._settled(read)
        except RuntimeError:
            pass  # in no event loop: another thread
        answer: concurrent.futures.Future[T] = concurrent.futures.Future()

        def in_loop() -> None:
            if answer.set_running_or_notify_cancel():
                try:
                    answer.set_result(self._settled(read))
                except BaseException as error:
                    answer.set_exception(error)

        try:
            loop.call_soon_threadsafe(in_loop)
        except RuntimeError:  # the loop closed meanwhile
            return self._settled(read, hand_over=False)
        try:
            return answer.result(timeout)
        except concurrent.futures.TimeoutError:
            if answer.cancel():
                # Batches not handed over yet show in a later settle.
                return self._settled(read, hand_over=False)
            return answer.result()  # it started in the loop just now

    def _settled(self, read: Callable[[Census], T], *, hand_over: bool = True) -> T:
        if hand_over:
            self._hand_over_all()
        return read(Census(self._running()))

    def _hand_over_all(self) -> None:
        batches, self.batches = self.batches, {}
        elsewhere, self._elsewhere = self._elsewhere, {}
        for batch in (*batches.values(), *elsewhere.values()):
            self._give(batch)

    def _give(self, batch: Tallied) -> None:
        for observer in self.observers:
            try:
                observer.tallied(batch)
            except Exception:
                complain(observer, "tallied")

    def _running(self) -> Groups:
        running: Counter[tuple[str, str]] = Counter()
        for keys, deliveries in list(self._inflight.items()):
            for delivery in list(deliveries.values()):
                envelope = delivery.envelope
                if delivery.started_at and envelope is not None:
                    running[(envelope.task, keys.queue)] += 1
        return dict(running)
