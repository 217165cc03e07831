"""Carrying chain and chord handoffs to their next queue, after their task's ending is stored.

``complete.lua`` stores a chained task's ending and its handoff in one call, in the task's
own queue (one cluster slot). The worker that wrote them then carries the handoff on (enqueue
the next step, end the awaited task with a failure, or add a member's value to its chord) and
deletes it. Every one of those acts is idempotent (the next step's and the chord callback's
ids are fixed when the chain or chord is built, and the enqueue script skips ids that have
state), so a handoff left behind by a worker that died is carried again by any worker's sweep,
and carrying one twice changes nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskgen.runtime.faults import describe
from taskgen.runtime.flows import CHORD_SPEC, FAIL, HANDOFF, MEMBER, NEXT, Handoff, step_envelope
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.packing import number, pack
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.signing import Signing
from taskgen.runtime.wire import now_ms

log = logging.getLogger("taskgen.worker")

#: Seconds between sweeps of the handoffs a worker serves, and the age (ms) at which a
#: handoff counts as left behind (its writer normally carries it within milliseconds).
SWEEP_EVERY = 1.0
LEFT_BEHIND_MS = 2000

#: Handoffs read per queue and sweep.
SWEEP_BATCH = 500


class Relay:
    """Carries handoffs on: right after their ending is written, and again in sweeps."""

    def __init__(
        self, redis: Redis, scripts: Scripts, prefix: str, signing: Signing | None = None
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self._prefix = prefix
        self._signing = signing
        self._keys: dict[str, QueueKeys] = {}
        self._running: set[asyncio.Task[None]] = set()

    def keys(self, queue: str) -> QueueKeys:
        """The layout of ``queue``."""
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys(queue, self._prefix)
        return keys

    def submit(self, source: QueueKeys, handoffs: list[tuple[bytes, bytes]]) -> None:
        """Carry these (task id, handoff) pairs of ``source``, just written, in the background."""
        task = asyncio.create_task(self._carry_logged(source, handoffs))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _carry_logged(self, source: QueueKeys, handoffs: list[tuple[bytes, bytes]]) -> None:
        try:
            await self.carry(source, handoffs)
        except (RedisError, OSError) as exc:
            log.warning("handoffs of queue %s left to a sweep: %s", source.queue, describe(exc))

    async def carry(self, source: QueueKeys, handoffs: Iterable[tuple[bytes, bytes]]) -> None:
        """Carry the handoffs on, all in one pipeline, then delete those carried; one that
        fails stays for a sweep."""
        found: list[tuple[bytes, Handoff]] = []
        carried: list[bytes] = []
        for task_id, blob in handoffs:
            try:
                handoff = HANDOFF.decode(blob)
            except msgspec.DecodeError:
                handoff = None
            if handoff is None or handoff.kind not in (NEXT, FAIL, MEMBER):
                log.error("handoff of task %r is none this worker knows: dropped", task_id)
                carried.append(task_id)
            else:
                found.append((task_id, handoff))
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for _, handoff in found:
                    await self._act(handoff, pipe)
                results = await pipe.execute(raise_on_error=False)
            for (task_id, handoff), result in zip(found, results, strict=True):
                if isinstance(result, BaseException):
                    log.warning(
                        "handoff of task %s (queue %s) not carried yet, a sweep retries: %s",
                        task_id.decode(errors="replace"),
                        source.queue,
                        describe(result),
                    )
                    continue
                if handoff.kind == MEMBER and isinstance(result, list):
                    await self._fire(self.keys(handoff.queue), handoff.id, result)
                elif handoff.chord:  # a failed member: its chord never completes
                    await self._redis.delete(self.keys(handoff.chord_queue).chord(handoff.chord))
                carried.append(task_id)
        except (RedisError, OSError) as exc:
            log.warning("handoffs of queue %s not carried yet: %s", source.queue, describe(exc))
        if carried:
            await self._redis.hdel(source.handoff, *carried)

    async def _act(self, handoff: Handoff, pipe: Any) -> None:
        """Queue the handoff's script call on ``pipe``."""
        keys = self.keys(handoff.queue)
        if handoff.kind == NEXT:
            record = pack(
                [handoff.id.encode(), number(handoff.level), b"0", handoff.data, handoff.reply]
            )
            await self._scripts.enqueue(keys=[keys.delayed], args=[keys.base, record], client=pipe)
        elif handoff.kind == FAIL:
            await self._scripts.end_target(
                keys=[keys.task(handoff.id)],
                args=[
                    keys.base,
                    handoff.id,
                    handoff.status,
                    handoff.data,
                    handoff.ttl_ms,
                    handoff.reply,
                ],
                client=pipe,
            )
        elif handoff.kind == MEMBER:
            await self._scripts.chord_member(
                keys=[keys.chord(handoff.id)], args=[handoff.index, handoff.data], client=pipe
            )
        else:
            raise ValueError(f"unknown handoff kind {handoff.kind!r} for task {handoff.id}")

    async def _fire(self, keys: QueueKeys, chord: str, found: Sequence[bytes]) -> None:
        """Enqueue a complete chord's callback with every member's value, in member order."""
        fields = dict(zip(found[::2], found[1::2], strict=True))
        spec = CHORD_SPEC.decode(fields[b"spec"])
        values = [msgspec.Raw(fields[b"%d" % i]) for i in range(spec.size)]
        callback = spec.callback
        envelope = step_envelope(callback, values, spec.flow, None, self._signing)
        record = pack([chord.encode(), number(callback.priority), b"0", envelope, callback.reply])
        await self._scripts.enqueue(keys=[keys.delayed], args=[keys.base, record])
        await self._redis.delete(keys.chord(chord))

    async def sweep(self, queues: Sequence[QueueKeys]) -> None:
        """Forever: carry the handoffs of ``queues`` that their writers left behind."""
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            for keys in queues:
                try:
                    await self.sweep_once(keys)
                except (RedisError, OSError) as exc:
                    log.warning(
                        "sweeping handoffs of queue %s failed: %s", keys.queue, describe(exc)
                    )

    async def sweep_once(self, keys: QueueKeys) -> int:
        """Carry the left-behind handoffs of one queue; how many it found."""
        # One page is enough: what it leaves, the next sweep finds.
        _, found = await self._redis.hscan(keys.handoff, 0, count=SWEEP_BATCH)
        if not isinstance(found, dict) or not found:
            return 0
        cutoff = now_ms() - LEFT_BEHIND_MS
        stale = [
            (task_id, blob)
            for task_id, blob in found.items()
            if isinstance(task_id, bytes) and isinstance(blob, bytes) and _written_at(blob) < cutoff
        ]
        await self.carry(keys, stale)
        return len(stale)

    async def drain(self, timeout: float) -> None:
        """Give the handoffs being carried up to ``timeout`` seconds (sweeps do the rest)."""
        if self._running:
            await asyncio.wait(list(self._running), timeout=timeout)


def _written_at(blob: bytes) -> int:
    try:
        return HANDOFF.decode(blob).written_at
    except msgspec.DecodeError:
        return 0
