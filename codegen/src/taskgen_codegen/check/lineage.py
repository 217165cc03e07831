"""Which earlier fingerprints of a task each version can share a queue with.

When a build finds a task's fingerprint changed since the accepted lock, it compares the two
and records, in the new lock, the earlier fingerprints whose payloads this version's workers
decode (``accepts``) and those whose workers decode this version's payloads (``decoded_by``),
carried forward from build to build while every change stays compatible. The generated
``TaskDef`` carries both, and the runtime registry judges a deploy with them alone: it needs no
compatibility rules of its own: the directions come from ``taskgen check``'s rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from taskgen_codegen.check.compat import Break, Finding, breaks_by_task
from taskgen_codegen.check.lock import Lock
from taskgen_codegen.check.rules import Direction

#: Earlier fingerprints kept per task and direction, newest first.
KEPT = 16


@dataclass(frozen=True)
class Lineage:
    """The earlier fingerprints a task's version is compatible with, per direction."""

    accepts: tuple[str, ...] = ()
    decoded_by: tuple[str, ...] = ()


NO_LINEAGE = Lineage()


#: What breaks an old client on a new worker (it sends arguments, reads the result and the
#: progress), and a new client on an old worker.
OLD_CLIENT_NEW_WORKER: frozenset[Break] = frozenset(
    {
        (Direction.OLD_TO_NEW, "args"),
        (Direction.NEW_TO_OLD, "result"),
        (Direction.NEW_TO_OLD, "progress"),
    }
)
NEW_CLIENT_OLD_WORKER: frozenset[Break] = frozenset(
    {
        (Direction.NEW_TO_OLD, "args"),
        (Direction.OLD_TO_NEW, "result"),
        (Direction.OLD_TO_NEW, "progress"),
    }
)


def lineage_of(previous: Lock | None, current: Lock, findings: list[Finding]) -> dict[str, Lineage]:
    """The lineage of every task of ``current``, given the accepted lock and the findings of
    comparing the two: which directions break comes from ``taskgen check``'s rules."""
    breaks = breaks_by_task(previous, current, findings) if previous is not None else {}
    lineages: dict[str, Lineage] = {}
    for wire, task in current.tasks.items():
        old = previous.tasks.get(wire) if previous is not None else None
        if old is None:
            lineages[wire] = NO_LINEAGE
        elif old.fingerprint == task.fingerprint:
            lineages[wire] = Lineage(old.accepts, old.decoded_by)
        else:
            broken = breaks.get(wire, frozenset())
            lineages[wire] = Lineage(
                () if broken & OLD_CLIENT_NEW_WORKER else _chain(old.fingerprint, old.accepts),
                () if broken & NEW_CLIENT_OLD_WORKER else _chain(old.fingerprint, old.decoded_by),
            )
    return lineages


def with_lineage(lock: Lock, lineages: Mapping[str, Lineage]) -> Lock:
    """The lock with each task's lineage recorded."""
    tasks = {
        wire: msgspec.structs.replace(
            task,
            accepts=lineages.get(wire, NO_LINEAGE).accepts,
            decoded_by=lineages.get(wire, NO_LINEAGE).decoded_by,
        )
        for wire, task in lock.tasks.items()
    }
    return msgspec.structs.replace(lock, tasks=tasks)


def without_lineage(lock: Lock) -> Lock:
    """The lock as the contracts alone determine it (what ``lock_of`` returns)."""
    return with_lineage(lock, {})


def _chain(fingerprint: str, earlier: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((fingerprint, *earlier)))[:KEPT]
