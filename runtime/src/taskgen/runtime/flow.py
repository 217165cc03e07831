"""Flow control of a task (concurrency, rate, uniqueness per key value), as generated code
declares it, and the packed form the flow scripts read.

The key of each option is computed here, client-side, by a function the generator wrote from
the contract's dotted path (``invoice.customer_id`` -> ``str(args.invoice.customer_id)``), so
nothing is evaluated from a string at run time. The scripts (``scripts/flow.lua``) keep, per
key value under the queue's hash tag: the ids holding a concurrency slot, the ids parked for
one, a token bucket's next free time, and the id a unique key belongs to (docs/flow-control.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec

from taskgen.runtime.packing import number, pack

A = TypeVar("A", bound=msgspec.Struct)

#: A function from a task's arguments to one key value.
KeyOf = Callable[[A], str]


class FlowControl(Generic[A]):
    """One task's flow-control options, with the functions that compute their keys.

    ``concurrency``: (key, most running at once); ``rate``: (key, starts per period, period in
    seconds); ``unique``: (key, seconds it holds at most, None: until the task ends); ``fair``:
    (key, window). Keys are scoped to the task's wire name ``task``: two tasks never share a
    slot, a bucket or a round-robin."""

    __slots__ = ("concurrency", "fair", "rate", "task", "unique")

    def __init__(
        self,
        task: str,
        *,
        concurrency: tuple[KeyOf[A], int] | None = None,
        rate: tuple[KeyOf[A], int, float] | None = None,
        unique: tuple[KeyOf[A], float | None] | None = None,
        fair: tuple[KeyOf[A], int] | None = None,
    ) -> None:
        self.task = task
        self.concurrency = concurrency
        self.rate = rate
        self.unique = unique
        self.fair = fair

    def spec(self, args: A) -> bytes:
        """The packed record the flow scripts read for one task: concurrency key and max, rate
        key, count and period in ms, unique key and its ttl in ms ('' and 0 where unset)."""
        scope = self.task + ":"
        ckey = cmax = rkey = rcount = rperiod = ukey = uttl = b""
        if self.concurrency is not None:
            key, most = self.concurrency
            ckey, cmax = (scope + key(args)).encode(), number(most)
        if self.rate is not None:
            key, count, period = self.rate
            rkey = (scope + key(args)).encode()
            rcount, rperiod = number(count), number(max(1, round(period * 1000)))
        if self.unique is not None:
            key, hold = self.unique
            ukey = (scope + key(args)).encode()
            uttl = number(0 if hold is None else max(1, round(hold * 1000)))
        fscope = fkey = fwindow = b""
        if self.fair is not None:
            key, window = self.fair
            fscope, fkey, fwindow = self.task.encode(), key(args).encode(), number(window)
        return pack(
            [
                ckey,
                cmax or b"0",
                rkey,
                rcount or b"0",
                rperiod or b"0",
                ukey,
                uttl or b"0",
                fscope,
                fkey,
                fwindow or b"0",
            ]
        )


def release_record(task_id: bytes) -> bytes:
    """Record K of ``complete.lua``: the task ended, free its slot and unique key (and admit
    the next parked task of its key). An executor sends it after a success of a flow-controlled
    task, and after every other ending: those are rare, and the task may hold flow state even
    where this worker cannot tell (an undecodable or unknown task); the script finds out."""
    return pack([b"K", task_id])
