"""Trace context for enqueued tasks: a producer span per enqueue, its W3C headers in the envelope.

OpenTelemetry is optional (the ``otel`` extra) and never imported here: an application that
traces has imported it and set a tracer provider. Until one is set, each enqueue costs two
lookups (is ``opentelemetry.trace`` loaded? has its global provider been set?); once a provider
is set (it can be only once), its tracer, or that it traces nothing, is kept. Spans follow
OpenTelemetry's messaging conventions: ``send <queue>`` (PRODUCER) on enqueue, ``process
<queue>`` (CONSUMER, see ``tracing_worker``) around each run.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskgen.runtime.observe import TaskObserver

#: ``messaging.system``: OpenTelemetry lists no value for taskgen, so it names itself.
SYSTEM = "taskgen"

_tracer: Any = None
#: The provider that was set traces nothing (the API's no-op one).
_silent = False
#: A provider named in the environment is made by the API on the first ask, not before.
_FROM_ENVIRONMENT = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ
_UNKNOWN = object()


def tracer() -> Any:
    """The application's tracer for taskgen spans, or None while no tracer provider is set."""
    global _tracer, _silent
    if _tracer is not None or _silent:
        return _tracer
    api = sys.modules.get("opentelemetry.trace")
    if api is None:
        return None  # nothing imported OpenTelemetry, so nothing set a provider
    # The API's own get_tracer_provider() looks at os.environ on every call while none is set:
    # its module global says as much for a fraction of the cost (if it is ever renamed, ask).
    if getattr(api, "_TRACER_PROVIDER", _UNKNOWN) is None and not _FROM_ENVIRONMENT:
        return None
    provider = api.get_tracer_provider()
    if isinstance(provider, api.ProxyTracerProvider):
        return None
    if isinstance(provider, api.NoOpTracerProvider):
        _silent = True
        return None
    from importlib.metadata import version

    _tracer = provider.get_tracer("taskgen", version("taskgen-runtime"))
    return _tracer


class Sending:
    """The producer span of one enqueue call, and the headers that carry it in the envelopes."""

    __slots__ = ("headers", "span")

    def __init__(self, tracer: Any, queues: set[str], count: int) -> None:
        from opentelemetry import propagate, trace

        destination = next(iter(queues)) if len(queues) == 1 else None
        attributes: dict[str, Any] = {
            "messaging.system": SYSTEM,
            "messaging.operation.name": "send",
            "messaging.operation.type": "send",
        }
        if destination is not None:
            attributes["messaging.destination.name"] = destination
        if count != 1:
            attributes["messaging.batch.message_count"] = count
        name = f"send {destination}" if destination is not None else "send"
        self.span = tracer.start_span(name, kind=trace.SpanKind.PRODUCER, attributes=attributes)
        headers: dict[str, str] = {}
        propagate.inject(headers, context=trace.set_span_in_context(self.span))
        #: W3C ``traceparent`` (and ``tracestate``, baggage) for the envelopes; None if empty.
        self.headers = headers or None

    def sent(self, task_ids: list[str]) -> None:
        """End the span: the tasks are queued."""
        if len(task_ids) == 1:
            self.span.set_attribute("messaging.message.id", task_ids[0])
        self.span.end()

    def failed(self, error: BaseException) -> None:
        """End the span with the error that stopped the enqueue."""
        from opentelemetry.trace import Status, StatusCode

        self.span.record_exception(error)
        self.span.set_attribute("error.type", type(error).__qualname__)
        self.span.set_status(Status(StatusCode.ERROR, str(error)))
        self.span.end()


def sending(queue: str) -> Sending | None:
    """A producer span for enqueueing one task, or None when nothing traces."""
    found = tracer()
    if found is None:
        return None
    return Sending(found, {queue}, 1)


def sending_calls(calls: list[Any]) -> Sending | None:
    """A producer span for enqueueing ``calls`` (``Call`` objects) at once, or None."""
    found = tracer()
    if found is None or not calls:
        return None
    return Sending(found, {call.task.queue for call in calls}, len(calls))


def worker_spans(wanted: bool | None, group: str) -> TaskObserver | None:
    """The span observer a worker runs with: ``None`` (auto) traces when the application has
    set a tracer provider by the time the worker serves; True requires one; False never."""
    if wanted is False:
        return None
    found = tracer()
    if found is None:
        if wanted:
            raise RuntimeError(
                "Worker(tracing=True) but no OpenTelemetry tracer provider is set: "
                "pip install 'taskgen-runtime[otel]' opentelemetry-sdk and set one "
                "(trace.set_tracer_provider, or run under opentelemetry-instrument)"
            )
        return None
    from taskgen.runtime.tracing_worker import TaskSpans

    return TaskSpans(found, group)
