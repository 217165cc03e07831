"""Chains and chords on the wire: what a task carries about the tasks after it, and the
handoff its worker writes, in the same script call as the task's ending, for the relay.

A chained task's envelope carries a ``Flow``: the steps still to run (each with its task id
fixed when the chain was built), the task whose outcome the caller awaits (the ``target``),
and, for a chord's member, where its value goes. When the task ends, its worker turns that
into one ``Handoff`` (next step's envelope, the failure for the target, or the member's value),
stored under the task's own queue by ``complete.lua`` together with the ending; ``relay.py``
then carries it to the next queue, which may live in another cluster slot.
"""

from __future__ import annotations

import msgspec

from taskgen.runtime import bigint
from taskgen.runtime.delivery import Delivery
from taskgen.runtime.packing import pack
from taskgen.runtime.signing import Signing
from taskgen.runtime.wire import (
    ENCODER,
    NONE_VALUE,
    Envelope,
    ErrorInfo,
    Outcome,
    TaskStatus,
    now_ms,
)


class NextStep(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A step still to run: its task, its id, and its arguments but the first."""

    id: str
    task: str
    queue: str
    fingerprint: str
    #: The parameter that receives the previous step's value (or the chord's values).
    first: str
    #: The other arguments, bound when the chain was built: an encoded msgpack map.
    bound: msgspec.Raw
    priority: int
    #: The awaiting client's reply channel (only on the step whose outcome it awaits).
    reply: bytes = b""


class Target(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """The task whose outcome a chain's or chord's caller awaits: a failure ends it."""

    id: str
    queue: str
    reply: bytes = b""


class Member(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """Where a chord member's value goes: its index in the chord of callback ``chord``."""

    chord: str
    queue: str
    index: int


class Flow(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """What a chained task carries: the steps after it, the target, its chord membership."""

    steps: list[NextStep]
    target: Target
    member: Member | None = None


class ChordSpec(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """What a chord's key holds for its callback: the first step and the flow after it."""

    size: int
    callback: NextStep
    flow: Flow | None


#: Handoff kinds: enqueue the next step, end the target with a failure, store a member's value.
NEXT, FAIL, MEMBER = "next", "fail", "member"


class Handoff(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One thing the relay must do in another queue; ``data`` is an envelope, an outcome or a
    value, ready to store as it is (signed by the worker that wrote it, with ``signing``)."""

    kind: str
    queue: str
    id: str
    data: bytes
    written_at: int
    level: int = 0
    reply: bytes = b""
    ttl_ms: int = 0
    index: int = 0
    status: str = ""
    #: For a chord member that failed: the queue and id of the chord, whose key is dropped.
    chord_queue: str = ""
    chord: str = ""


FLOW = msgspec.msgpack.Decoder(Flow)
HANDOFF = msgspec.msgpack.Decoder(Handoff)
CHORD_SPEC = msgspec.msgpack.Decoder(ChordSpec)
_RAW_MAP = msgspec.msgpack.Decoder(dict[str, msgspec.Raw])


def step_arguments(step: NextStep, value: msgspec.Raw | list[msgspec.Raw]) -> bytes:
    """The step's encoded arguments: ``value`` as its first parameter, then the bound ones."""
    arguments: dict[str, object] = {step.first: value}
    arguments.update(_RAW_MAP.decode(step.bound))
    return bigint.encode(arguments)


def step_envelope(
    step: NextStep,
    value: msgspec.Raw | list[msgspec.Raw],
    flow: Flow | None,
    trace: dict[str, str] | None,
    signing: Signing | None,
) -> bytes:
    """The encoded (and signed) envelope of ``step``, carrying ``flow`` if steps follow it."""
    envelope = Envelope(
        step.id,
        step.task,
        step.fingerprint,
        msgspec.Raw(step_arguments(step, value)),
        now_ms(),
        1,
        step.priority,
        0,
        trace,
        step.reply,
        msgspec.Raw(ENCODER.encode(flow)) if flow is not None else NONE_VALUE,
    )
    encoded = ENCODER.encode(envelope)
    if signing is not None:
        encoded = signing.sign_envelope(encoded, step.queue, step.id.encode())
    return encoded


def rest(flow: Flow) -> Flow | None:
    """The flow the next step carries: the steps after it (None once none are left)."""
    if len(flow.steps) > 1 or flow.member is not None:
        return Flow(flow.steps[1:], flow.target, flow.member)
    return None


def after_done(envelope: Envelope, value: msgspec.Raw, signing: Signing | None) -> bytes:
    """The handoff of a chained task that returned ``value``: its next step, or its value
    for the chord it belongs to."""
    flow = FLOW.decode(envelope.flow)
    if flow.steps:
        step = flow.steps[0]
        encoded = step_envelope(step, value, rest(flow), envelope.trace, signing)
        handoff = Handoff(NEXT, step.queue, step.id, encoded, now_ms(), step.priority, step.reply)
    else:
        assert flow.member is not None
        member = flow.member
        handoff = Handoff(
            MEMBER, member.queue, member.chord, bytes(value), now_ms(), index=member.index
        )
    return ENCODER.encode(handoff)


def after_failure(
    delivery: Delivery,
    status: TaskStatus,
    error: ErrorInfo | None,
    ttl: float,
    signing: Signing | None,
) -> bytes | None:
    """The handoff of a chained task that ended without a value (None for a plain task): its
    ending becomes the target's, so the caller's handle raises this step's error, and nothing
    after it runs."""
    envelope = delivery.envelope
    if envelope is None or not envelope.chained:
        return None
    flow = FLOW.decode(envelope.flow)
    target, member = flow.target, flow.member if not flow.steps else None
    step = f"step {envelope.task} ({envelope.id})"
    error = ErrorInfo(
        error.type if error else status.value,
        f"{step}: {error.message}" if error else f"{step} ended {status.value}",
        error.traceback if error else "",
    )
    outcome = Outcome(
        status,
        error=error,
        finished_at=now_ms(),
        attempts=envelope.attempt,
        deliveries=delivery.redeliveries + 1,
        enqueued_at=envelope.enqueued_at,
    )
    encoded = ENCODER.encode(outcome)
    if signing is not None:
        encoded = signing.sign_outcome(encoded, target.queue, target.id.encode())
    handoff = Handoff(
        FAIL,
        target.queue,
        target.id,
        encoded,
        now_ms(),
        reply=target.reply,
        ttl_ms=round(ttl * 1000),
        status=status.value,
        chord_queue=member.queue if member else "",
        chord=member.chord if member else "",
    )
    return ENCODER.encode(handoff)


def handoff_record(task_id: bytes, handoff: bytes) -> bytes:
    """Record H of ``complete.lua``: store the handoff with the task's ending."""
    return pack([b"H", task_id, handoff])
