"""Starting chains, groups and chords, and the handles that await them.

Every step's task id is fixed here, before anything is sent: the worker that ends a step
enqueues the next under that id (deduplicated by the enqueue script, so a step handed on twice
after a crash still runs once), and the caller's handle awaits the last id from the start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from taskgen.runtime import tracing
from taskgen.runtime.chains import Chain, Chord, Group, Step
from taskgen.runtime.client import aborted_outcome
from taskgen.runtime.errors import ResultTimeout
from taskgen.runtime.flows import ChordSpec, Flow, Member, NextStep, Target
from taskgen.runtime.handle import TaskHandle, unwrap
from taskgen.runtime.keys import GROUP
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.taskdef import Call, TaskDef, pack_call
from taskgen.runtime.wire import ENCODER, TaskStatus, new_task_id, now_ms

if TYPE_CHECKING:
    from taskgen.runtime.client import Client

R = TypeVar("R")
T = TypeVar("T")

#: How long a chord's key waits for its members before Redis drops it (ms): a chord whose
#: members never all end (a worker fleet gone for a week) stops holding their values.
CHORD_TTL_MS = 7 * 24 * 3600 * 1000

#: How long the aborted mark of a step is kept (ms).
ABORTED_TTL_MS = 24 * 3600 * 1000

#: Tasks per enqueue script call when a group is started.
CHUNK = 1000


class ChainHandle(Generic[R]):
    """A started chain or chord: await the last step's value, or abort every step."""

    __slots__ = ("_client", "steps", "task")

    def __init__(self, client: Client, task: TaskDef[Any, R], steps: list[tuple[str, str]]) -> None:
        self._client = client
        #: The last step's task: the one whose value ``result()`` returns.
        self.task = task
        #: Every step's (queue, task id), in order; the chord's callback first for a chord.
        self.steps = steps

    @property
    def id(self) -> str:
        """The last step's task id (re-attach with ``<last task>.handle(id)``)."""
        return self.steps[-1][1]

    async def result(self, timeout: float | None = None) -> R:
        """The last step's value; a step that failed (after its retries) raises its error,
        as ``TaskFailed`` naming that step, and no step after it ran."""
        queue, task_id = self.steps[-1]
        raw = await self._client.wait_outcome(queue, task_id, timeout)
        if raw is None:
            raise ResultTimeout(task_id=task_id, task=self.task.name, timeout=timeout or 0.0)
        return unwrap(self.task, task_id, self._client.outcome(queue, task_id, raw))

    async def status(self) -> TaskStatus:
        """The last step's status (``unknown`` until the steps before it are done)."""
        queue, task_id = self.steps[-1]
        return await self._client.status(queue, task_id)

    async def abort(self) -> bool:
        """Abort the chain: the running step is cancelled, the steps after it never run.

        Later steps are marked aborted first, so a step that ends meanwhile hands on to a
        step that is already ended. False if the last step had ended before."""
        return not await _abort_steps(self._client, self.steps[::-1])


class GroupHandle(Generic[T]):
    """A started group: await every member's value, in member order."""

    __slots__ = ("handles", "tuple")

    def __init__(self, handles: list[TaskHandle[Any]], *, as_tuple: bool) -> None:
        self.handles = handles
        self.tuple = as_tuple

    async def result(self, timeout: float | None = None) -> T:
        """Every member's value (a list, or a tuple for ``group(a, b, ...)``); the first
        member that failed raises its error."""
        async with asyncio.timeout(timeout):
            values = await asyncio.gather(*(h.result() for h in self.handles))
        return cast(T, tuple(values) if self.tuple else list(values))

    async def abort(self) -> int:
        """Abort every member; how many had not ended."""
        aborted = await asyncio.gather(*(h.abort() for h in self.handles))
        return sum(aborted)

    def __len__(self) -> int:
        return len(self.handles)


class ChordHandle(ChainHandle[R]):
    """A started chord: its callback's (chain's) value, and the members' own handle."""

    __slots__ = ("members",)

    def __init__(
        self,
        client: Client,
        task: TaskDef[Any, R],
        steps: list[tuple[str, str]],
        members: GroupHandle[Any],
    ) -> None:
        super().__init__(client, task, steps)
        self.members = members

    async def abort(self) -> bool:
        """Abort the members and the callback's steps (the callback never runs)."""
        ended = await super().abort()
        await self.members.abort()
        return ended


def _planned(steps: tuple[Step[Any, Any], ...], reply: bytes) -> list[NextStep]:
    """Each step with its task id, fixed now; the last carries the client's reply channel."""
    planned: list[NextStep] = []
    for n, step in enumerate(steps):
        task, options = step.task, step.options
        priority = options.priority if options.priority is not None else task.priority
        planned.append(
            NextStep(
                options.task_id or new_task_id(),
                task.name,
                task.queue,
                task.fingerprint,
                step.first,
                step.encoded_bound(),
                int(priority),
                reply if n == len(steps) - 1 else b"",
            )
        )
    return planned


async def start_chain(client: Client, chain: Chain[R]) -> ChainHandle[R]:
    """Enqueue a chain's first call, carrying the steps after it; one round trip."""
    backend = client.backend
    reply = backend.reply
    first = chain.first
    steps = _planned(chain.steps, reply)
    if steps:
        last = steps[-1]
        flow: bytes | None = ENCODER.encode(Flow(steps, Target(last.id, last.queue, reply)))
    else:
        flow = None
    span = tracing.sending(first.task.queue)
    first_id, record = pack_call(
        first.task,
        first.args,
        first.options,
        now_ms(),
        reply=b"" if steps else reply,
        trace=span.headers if span is not None else None,
        limit=client.max_envelope_bytes,
        signing=client.signing,
        flow=flow,
    )
    await backend.enqueue(client.keys(first.task.queue), record)
    if span is not None:
        span.sent([first_id])
    placed = [(first.task.queue, first_id), *((s.queue, s.id) for s in steps)]
    if reply:
        queue, task_id = placed[-1]
        backend.expect(client.keys(queue), task_id)
    task = chain.steps[-1].task if chain.steps else first.task
    return ChainHandle(client, task, placed)


async def start_group(
    client: Client, group: Group[T], flows: list[bytes] | None = None
) -> GroupHandle[T]:
    """Enqueue every member (with its chord ``flows``, if any): one call per queue and
    ``CHUNK`` members."""
    backend = client.backend
    reply = backend.reply
    now = now_ms()
    # Members by queue, each with its place in the group: they are sent queue by queue.
    records: dict[str, list[tuple[int, Call[Any], str, bytes]]] = {}
    for n, call in enumerate(group.calls):
        task_id, record = pack_call(
            call.task,
            call.args,
            call.options,
            now,
            reply=reply,
            limit=client.max_envelope_bytes,
            signing=client.signing,
            flow=flows[n] if flows is not None else None,
        )
        records.setdefault(call.task.queue, []).append((n, call, task_id, record))
    handles: dict[int, TaskHandle[Any]] = {}
    for queue, members in records.items():
        keys = client.keys(queue)
        for start in range(0, len(members), CHUNK):
            chunk = members[start : start + CHUNK]
            created = await backend.enqueue(keys, b"".join(r for *_, r in chunk))
            for (n, call, task_id, _), flag in zip(chunk, created, strict=True):
                ours = flag == 1 or call.options.task_id is None
                if reply and ours:
                    backend.expect(keys, task_id)
                handles[n] = TaskHandle(client, call.task, task_id, created=ours)
    return GroupHandle([handles[n] for n in range(len(group.calls))], as_tuple=group.tuple)


async def start_chord(client: Client, chord: Chord[R]) -> ChordHandle[R]:
    """Store the chord's callback under its queue, then enqueue the members, each carrying
    where its value goes; the member that completes the chord enqueues the callback."""
    backend = client.backend
    reply = backend.reply
    steps = _planned(chord.steps, reply)
    callback, following = steps[0], steps[1:]
    last = steps[-1]
    target = Target(last.id, last.queue, reply)
    spec = ChordSpec(len(chord.group), callback, Flow(following, target) if following else None)
    keys = client.keys(callback.queue)
    await Scripts(client.redis).chord_open(
        keys=[keys.chord(callback.id)], args=[spec.size, ENCODER.encode(spec), CHORD_TTL_MS]
    )
    flows = [
        ENCODER.encode(Flow([], target, Member(callback.id, callback.queue, n)))
        for n in range(spec.size)
    ]
    members = await start_group(client, chord.group, flows)
    if reply:
        backend.expect(client.keys(last.queue), last.id)
    placed = [(s.queue, s.id) for s in steps]
    return ChordHandle(client, chord.steps[-1].task, placed, members)


async def _abort_steps(client: Client, steps: Iterable[tuple[str, str]]) -> bool:
    """Abort each (queue, id), the awaited step first: mark one not yet enqueued aborted (so
    it never runs), else abort it as any task; True if the first of them had ended already."""
    scripts = Scripts(client.redis)
    first_ended: bool | None = None
    reply = client.backend.reply
    for queue, task_id in steps:
        keys = client.keys(queue)
        outcome = ENCODER.encode(aborted_outcome())
        if client.signing is not None:
            outcome = client.signing.sign_outcome(outcome, queue, task_id.encode())
        marked = await scripts.end_target(
            keys=[keys.task(task_id)],
            args=[
                keys.base,
                task_id,
                TaskStatus.ABORTED.value,
                outcome,
                ABORTED_TTL_MS,
                reply if first_ended is None else b"",
            ],
        )
        ended = False
        if not int(marked):
            ended = not int(
                await scripts.abort(
                    keys=[keys.task(task_id), keys.delayed, keys.retrying],
                    args=[keys.base, GROUP, task_id, outcome, ABORTED_TTL_MS],
                )
            )
        if first_ended is None:
            first_ended = ended
    return bool(first_ended)
