"""The runtime contract registry: which tasks, of which fingerprints, each queue's workers run.

Workers publish one entry per queue they serve (``registry_publish.lua``): their state, the
digest of their contract (wire name -> fingerprint and the earlier fingerprints it accepts)
and a heartbeat in Redis time. A stopped worker's entry stays, marked stopped, and a silent
one counts as stale once its heartbeat is older than it promised; so a deploy in progress is
visible. This module holds what both sides share and the pure decision a client makes from
one read of a queue's registry; ``registry_cache`` reads and caches it for a client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.taskdef import TaskDef

#: ``strict`` refuses and reports as errors; ``warn`` refuses, and reports as warnings;
#: ``off`` consults nothing (fire-and-forget producers).
Mode = Literal["strict", "warn", "off"]
MODES: tuple[Mode, ...] = ("strict", "warn", "off")

#: Seconds between a worker's heartbeats; it counts as stale after ``STALE_AFTER`` beats.
HEARTBEAT = 2.0
STALE_AFTER = 3
#: Seconds a queue's registry outlives the last heartbeat of its workers.
KEEP = 7 * 24 * 3600

LIVE, STOPPED = "L", "S"


class Accepted(msgspec.Struct, frozen=True, array_like=True):
    """What a worker runs under one wire name: its fingerprint, and earlier ones it decodes."""

    fingerprint: str
    accepts: tuple[str, ...] = ()


Contract = dict[str, Accepted]

_CONTRACT_ENCODER = msgspec.msgpack.Encoder(order="sorted")
_CONTRACT_DECODER = msgspec.msgpack.Decoder(Contract)


def encode_contract(tasks: Iterable[TaskDef[Any, Any]]) -> tuple[str, bytes]:
    """The digest and the encoding of what a worker runs on one queue."""
    contract = {t.name: Accepted(t.fingerprint, t.accepts) for t in tasks}
    blob = _CONTRACT_ENCODER.encode(contract)
    return hashlib.sha256(blob).hexdigest()[:16], blob


def decode_contract(blob: bytes) -> Contract:
    """A contract written by ``encode_contract``."""
    return _CONTRACT_DECODER.decode(blob)


class RegistryKeys:
    """The registry's keys of one queue: worker entries, contracts by digest, change channel."""

    __slots__ = ("channel", "contracts", "queue", "workers")

    def __init__(self, keys: QueueKeys) -> None:
        self.queue = keys.queue
        self.workers = f"{keys.base}:workers"
        self.contracts = f"{keys.base}:contracts"
        self.channel = f"{keys.base}:registry"


def served_key(prefix: str) -> str:
    """The hash of wire name -> the queue its newest worker serves it on (all queues)."""
    return f"{prefix}:served"


def channel_pattern(prefix: str) -> str:
    """Matches the change channel of every queue's registry."""
    return f"{prefix}:{{*}}:registry"


@dataclass(frozen=True)
class WorkerState:
    """One worker's entry as a client read it."""

    worker: str
    live: bool
    contract: Contract


def parse_entry(worker: str, entry: bytes, now: int, contracts: dict[str, Contract]) -> WorkerState:
    """A worker entry, ``<state> <digest> <heartbeat ms> <stale after ms>``, read at ``now``."""
    state, digest, beat, stale_after = entry.decode().split(" ")
    live = state == LIVE and now - int(beat) <= int(stale_after)
    return WorkerState(worker, live, contracts.get(digest, {}))


#: ``ok``: a live worker decodes it.  ``refuse``: live workers, none decodes it.  ``buffer``: no
#: worker is live, but one that ran it here will be back.  ``unserved``: none ever ran it here.
Kind = Literal["ok", "refuse", "buffer", "unserved"]


@dataclass(frozen=True)
class Verdict:
    """What a client may do with a task, by one read of its queue's registry."""

    kind: Kind
    #: For a refusal: the fingerprints the live workers run under the task's name.
    worker_fingerprints: tuple[str, ...] = ()


OK = Verdict("ok")
BUFFER = Verdict("buffer")
UNSERVED = Verdict("unserved")


def decodes(worker: Accepted, task: TaskDef[Any, Any]) -> bool:
    """The worker decodes this task's payloads: the same shape, one its lock accepts, or one
    whose workers the client's lock says decode it."""
    return (
        worker.fingerprint == task.fingerprint
        or task.fingerprint in worker.accepts
        or worker.fingerprint in task.decoded_by
    )


def judge(workers: Iterable[WorkerState], task: TaskDef[Any, Any]) -> Verdict:
    """Live workers and none decodes the task: refuse; none live: queue it (buffer), unless
    no worker ever ran it on this queue (unserved)."""
    workers = list(workers)
    if any(w.live for w in workers):
        live = [w.contract[task.name] for w in workers if w.live and task.name in w.contract]
        if any(decodes(worker, task) for worker in live):
            return OK
        return Verdict("refuse", tuple(sorted({w.fingerprint for w in live})))
    if any(task.name in w.contract for w in workers):
        return BUFFER
    return UNSERVED


class RegistryView:
    """One read of a queue's registry, with the verdicts computed from it so far."""

    __slots__ = ("read_at", "verdicts", "workers")

    def __init__(self, workers: list[WorkerState], read_at: float) -> None:
        self.workers = workers
        #: ``time.monotonic()`` when it was read.
        self.read_at = read_at
        #: By task definition (hashed by identity: the cheapest key on the enqueue path).
        self.verdicts: dict[TaskDef[Any, Any], Verdict] = {}

    def verdict(self, task: TaskDef[Any, Any]) -> Verdict:
        """The verdict for ``task`` (computed once per view)."""
        found = self.verdicts.get(task)
        if found is None:
            found = self.verdicts[task] = judge(self.workers, task)
        return found
