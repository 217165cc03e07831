"""A CONSUMER span around each run, the child of the span that enqueued the task.

The span is made current in the task's own context before the handler is called, so the
handler's own spans (and sync handlers', in their thread) are its children. Runs that never
started (expired, aborted, rejected) get a span too, so a trace shows what became of them.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from taskgen.runtime import tracing
from taskgen.runtime.observe import Ending, Run, TaskObserver
from taskgen.runtime.wire import TaskStatus


class TaskSpans(TaskObserver):
    """Traces every run as ``process <queue>``, under the enqueuer's trace when it sent one."""

    def __init__(self, tracer: Any, consumer_group: str = "") -> None:
        self.tracer = tracer
        self.group = consumer_group

    def started(self, run: Run) -> None:
        """Open the run's span and make it current for the handler."""
        span = self._open(run)
        run.notes["span"] = span
        # Not detached: this context belongs to the task, and ends with it.
        context.attach(trace.set_span_in_context(span))

    def ended(self, run: Run, ending: Ending) -> None:
        """Close the run's span with how it ended."""
        span = run.notes.pop("span", None) or self._open(run)
        span.set_attribute("taskgen.task.outcome", _outcome(ending))
        error = ending.error
        if error is not None and ending.status is not TaskStatus.ABORTED:
            span.set_attribute("error.type", error.type)
            span.set_status(Status(StatusCode.ERROR, f"{error.type}: {error.message}"))
        span.end()

    def _open(self, run: Run) -> Any:
        parent = propagate.extract(run.trace) if run.trace else None
        attributes: dict[str, Any] = {
            "messaging.system": tracing.SYSTEM,
            "messaging.operation.name": "process",
            "messaging.operation.type": "process",
            "messaging.destination.name": run.queue,
            "messaging.message.id": run.task_id,
            "messaging.message.delivery_count": run.delivery,
            "taskgen.task.name": run.task,
            "taskgen.task.attempt": run.attempt,
        }
        if self.group:
            attributes["messaging.consumer.group.name"] = self.group
        return self.tracer.start_span(
            f"process {run.queue}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        )


def _outcome(ending: Ending) -> str:
    if ending.retrying:
        return "retrying"
    if ending.dead and ending.status is not TaskStatus.REJECTED:
        return "dead"
    return ending.status.value
