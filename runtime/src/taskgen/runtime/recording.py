"""How a run's ending is recorded: the completion record (and a chain's handoff, a flow
slot's release) handed to the completer, the observers told, the slot given back.

A mixin of ``execution.Executor``, which decides how each run ends; this spells the recording,
so the executor's module stays about running handlers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from taskgen.runtime.binding import Binding
from taskgen.runtime.completion import Completer, CompletionSink
from taskgen.runtime.delivery import Delivery
from taskgen.runtime.endings import done_record, end_record
from taskgen.runtime.failures import error_info
from taskgen.runtime.flow import release_record
from taskgen.runtime.flows import after_done, after_failure
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.observe import Ending, TaskObserver, notify_ended
from taskgen.runtime.recycling import Recycler
from taskgen.runtime.signing import Signing
from taskgen.runtime.slots import Slots
from taskgen.runtime.tally import Tally
from taskgen.runtime.wire import NONE_VALUE, ErrorInfo, TaskStatus

log = logging.getLogger("taskgen.worker")

#: Every plain success ends the same way: one Ending for all (observers only read it).
DONE_ENDING = Ending(TaskStatus.DONE)


class EndingRecorder:
    """Records runs' endings; the executor sets every attribute below."""

    bindings: dict[str, Binding[Any, Any]]
    completer: CompletionSink
    slots: Slots
    recycler: Recycler | None
    observers: tuple[TaskObserver, ...]
    every_runners: tuple[TaskObserver, ...]
    every_run: bool
    inflight: dict[QueueKeys, dict[bytes, Delivery]]
    tally: Tally | None
    idle: asyncio.Event
    processed: int
    failed: int
    signing: Signing | None

    def _end_anyway(self, delivery: Delivery, exc: BaseException) -> None:
        """The last resort when recording an ending raised: a plain, dead-lettered failure."""
        if delivery.entry not in self.inflight.get(delivery.keys, {}):
            return  # it was recorded before the error
        error = error_info(exc)
        reason = f"the worker could not record how the handler ended: {error.type}: {error.message}"
        log.error("task entry %s: %s", _name(delivery), reason)
        try:
            self._end(delivery, TaskStatus.FAILED, error=ErrorInfo(error.type, reason), dead=reason)
        except Exception as failure:
            self._abandon(delivery, failure)

    def _abandon(self, delivery: Delivery, exc: BaseException) -> None:
        """Stop holding an entry that cannot even be dead-lettered: its lease runs out, and
        ``max_deliveries`` ends it after a few more workers have tried."""
        log.error("task entry %s abandoned to its lease: %r", _name(delivery), exc)
        if self.tally is not None:
            self.tally.interrupt(self.bindings, delivery)
        self._forget(delivery)

    def _end(
        self,
        delivery: Delivery,
        status: TaskStatus,
        *,
        value: msgspec.Raw = NONE_VALUE,
        error: ErrorInfo | None = None,
        ttl: float | None = None,
        dead: str | None = None,
        task: str | None = None,
    ) -> None:
        envelope = delivery.envelope
        self.failed += 1  # the done ending is ``_done``
        if ttl is None:
            binding = self.bindings.get(envelope.task) if envelope else None
            ttl = binding.task.result_ttl if binding else 86400.0
        record = end_record(
            delivery,
            status,
            value=value,
            error=error,
            ttl=ttl,
            dead=dead,
            task=task,
            signing=self.signing,
        )
        self._record(delivery, record, after_failure(delivery, status, error, ttl, self.signing))
        self.completer.add(delivery.keys, release_record(delivery.task_id))
        if self.observers:
            ending = Ending(status, error, dead=dead is not None)
            notify_ended(self.observers, delivery.observed(task), ending)

    def _done(self, delivery: Delivery, binding: Binding[Any, Any], value: msgspec.Raw) -> None:
        """The common ending (see ``complete.lua``, record F)."""
        envelope = delivery.envelope
        assert envelope is not None
        handoff = after_done(envelope, value, self.signing) if envelope.chained else None
        self._record(delivery, done_record(delivery, binding, value, self.signing), handoff)
        if binding.task.flow is not None:
            self.completer.add(delivery.keys, release_record(delivery.task_id))
        if self.every_run:
            notify_ended(self.every_runners, delivery.observed(), DONE_ENDING)
        if self.tally is not None:
            self.tally.done(binding, delivery)

    def _record(self, delivery: Delivery, record: bytes, handoff: bytes | None = None) -> None:
        if handoff is None or not isinstance(self.completer, Completer):
            self.completer.add(delivery.keys, record)
        else:  # a chain's step or a chord's member: its handoff rides with the ending
            self.completer.add_with_handoff(delivery.keys, record, delivery.task_id, handoff)
        self.processed += 1
        self._forget(delivery)
        if self.recycler is not None:
            self.recycler.task_ended()

    def _forget(self, delivery: Delivery) -> None:
        if self.let_go(delivery):
            self.slots.give(1)

    def let_go(self, delivery: Delivery) -> bool:
        """Stop tracking a delivery (the undoing of ``hold``; the entry stays pending in
        Redis); whether it was tracked."""
        deliveries = self.inflight.get(delivery.keys)
        if deliveries is None or deliveries.pop(delivery.entry, None) is None:
            return False
        if not any(self.inflight.values()):
            self.idle.set()
        return True


def _name(delivery: Delivery) -> str:
    return delivery.entry.decode(errors="backslashreplace")
