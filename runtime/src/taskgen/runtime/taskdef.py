"""A task as both sides see it, and what a caller may ask of one enqueue."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from taskgen.runtime import bigint
from taskgen.runtime.errors import PayloadTooLarge
from taskgen.runtime.limits import MAX_ENVELOPE_BYTES
from taskgen.runtime.packing import number, pack
from taskgen.runtime.progress import ProgressType
from taskgen.runtime.wire import ENCODER, NONE_VALUE, Envelope, new_task_id

if TYPE_CHECKING:
    from taskgen.runtime.chains import Chain, Chainable, Step
    from taskgen.runtime.flow import FlowControl
    from taskgen.runtime.signing import Signing
from taskgen.vocabulary import NO_RETRY, ParamKind, Priority, Retry

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")
R2 = TypeVar("R2")


class TaskDef(Generic[A, R]):
    """One task: wire name, queue, argument and result types, and its policies."""

    __slots__ = (
        "accepts",
        "args",
        "args_decoder",
        "decoded_by",
        "fingerprint",
        "flow",
        "name",
        "params",
        "priority",
        "progress",
        "queue",
        "result",
        "result_decoder",
        "result_ttl",
        "retry",
        "timeout",
    )

    def __init__(
        self,
        *,
        name: str,
        queue: str,
        fingerprint: str,
        args: type[A],
        result: Any,
        params: tuple[tuple[str, ParamKind], ...] = (),
        timeout: float | None = None,
        retry: Retry = NO_RETRY,
        priority: Priority = Priority.NORMAL,
        result_ttl: float = 3600.0,
        accepts: tuple[str, ...] = (),
        decoded_by: tuple[str, ...] = (),
        progress: ProgressType[Any] | None = None,
        flow: FlowControl[A] | None = None,
    ) -> None:
        self.name = name
        self.queue = queue
        self.fingerprint = fingerprint
        self.args = args
        self.result = result
        self.params = params
        self.timeout = timeout
        self.retry = retry
        self.priority = priority
        self.result_ttl = result_ttl
        #: Earlier fingerprints whose payloads this version's workers decode (from the lock).
        self.accepts = accepts
        #: Earlier fingerprints whose workers decode this version's payloads (from the lock).
        self.decoded_by = decoded_by
        #: The contract's progress type (None: progress is a number and a message).
        self.progress = progress
        #: Concurrency, rate and uniqueness per key value (None: none; see ``flow.py``).
        self.flow = flow
        self.args_decoder: bigint.Decoder[A] = bigint.Decoder(args)
        self.result_decoder: bigint.Decoder[R] = bigint.Decoder(result)

    def __repr__(self) -> str:
        return f"TaskDef({self.name!r}, queue={self.queue!r})"


Seconds = float | datetime.timedelta


class EnqueueOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Per-call options: when to run, how urgent, under which id, and until when it is wanted."""

    #: Run no sooner than this long from now.
    delay: Seconds | None = None
    #: Run no sooner than this moment (timezone-aware).
    at: datetime.datetime | None = None
    #: Overrides the task's priority from the contract.
    priority: Priority | None = None
    #: A caller-chosen id: enqueueing the same id again returns the existing task.
    task_id: str | None = None
    #: Drop the task, with a recorded reason, if it has not started within this long.
    expires: Seconds | None = None

    def __post_init__(self) -> None:
        if self.delay is not None and self.at is not None:
            raise ValueError("give delay or at, not both")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at must be timezone-aware, e.g. datetime.now(UTC) + timedelta(...)")
        if self.task_id is not None and not self.task_id:
            raise ValueError("task_id must not be empty")

    def delay_ms(self) -> int:
        """Milliseconds to wait before the task is ready (0: now)."""
        if self.at is not None:
            wait = (self.at - datetime.datetime.now(datetime.UTC)).total_seconds()
        else:
            wait = _seconds(self.delay)
        return max(0, round(wait * 1000))

    def expires_at(self, enqueued_at: int) -> int:
        """The epoch millisecond after which the task must not start (0: never)."""
        if self.expires is None:
            return 0
        return enqueued_at + self.delay_ms() + max(1, round(_seconds(self.expires) * 1000))


def _seconds(value: Seconds | None) -> float:
    if value is None:
        return 0.0
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return float(value)


NO_OPTIONS = EnqueueOptions()


class Call(Generic[R]):
    """A task with its arguments and options, ready to enqueue alone or with others."""

    __slots__ = ("args", "options", "task")

    def __init__(
        self, task: TaskDef[Any, R], args: msgspec.Struct, options: EnqueueOptions = NO_OPTIONS
    ) -> None:
        self.task = task
        self.args = args
        self.options = options

    def then(self, step: Step[R, R2] | Chainable[R, R2]) -> Chain[R2]:
        """A chain: this call, then ``step`` with this call's value as its first argument;
        start it with ``tasks.start(chain)`` (see docs/workflows.md)."""
        from taskgen.runtime.chains import Chain

        return Chain(self).then(step)


def encode_call(
    task: TaskDef[Any, Any],
    args: msgspec.Struct,
    options: EnqueueOptions,
    now: int,
    task_id: str | None = None,
    reply: bytes = b"",
    trace: dict[str, str] | None = None,
    limit: int = MAX_ENVELOPE_BYTES,
    signing: Signing | None = None,
    flow: bytes | None = None,
) -> tuple[str, int, int, bytes]:
    """One task's id, priority level, delay in ms and encoded envelope (``trace``: the
    enqueuing side's W3C trace headers), signed if ``signing`` is given; ``PayloadTooLarge``
    if it is over ``limit`` bytes."""
    task_id = options.task_id or task_id or new_task_id()
    if options is NO_OPTIONS:
        priority, delay, expires_at = task.priority, 0, 0
    else:
        priority = options.priority if options.priority is not None else task.priority
        delay = options.delay_ms()
        expires_at = options.expires_at(now)
    envelope = Envelope(
        task_id,
        task.name,
        task.fingerprint,
        msgspec.Raw(bigint.encode(args)),
        now,
        1,
        priority,
        expires_at,
        trace,
        reply,
        msgspec.Raw(flow) if flow is not None else NONE_VALUE,
    )
    encoded = ENCODER.encode(envelope)
    if signing is not None:
        encoded = signing.sign_envelope(encoded, task.queue, task_id.encode())
    if len(encoded) > limit:
        raise PayloadTooLarge(task=task.name, size=len(encoded), limit=limit)
    return task_id, int(priority), delay, encoded


def pack_call(
    task: TaskDef[Any, Any],
    args: msgspec.Struct,
    options: EnqueueOptions,
    now: int,
    task_id: str | None = None,
    reply: bytes = b"",
    trace: dict[str, str] | None = None,
    limit: int = MAX_ENVELOPE_BYTES,
    signing: Signing | None = None,
    flow: bytes | None = None,
) -> tuple[str, bytes]:
    """The task id, and the packed record the enqueue script reads for this task
    (``flow_enqueue.lua``'s, with its flow record, for a flow-controlled task; ``flow``: the
    encoded ``flows.Flow`` of a chain's first step or a chord's member)."""
    task_id, level, delay, envelope = encode_call(
        task, args, options, now, task_id, reply, trace, limit, signing, flow
    )
    values = [task_id.encode(), number(level), number(delay), envelope, reply]
    if task.flow is not None:
        # flow_enqueue.lua's sixth value (see ``flow.py``).
        values.append(task.flow.spec(args))
    return task_id, pack(values)
