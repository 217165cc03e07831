"""Which earlier fingerprints of a task each version can share a queue with.

When a build finds a task's fingerprint changed since the accepted lock, it compares the two
and records, in the new lock, the earlier fingerprints whose payloads this version's workers
decode (``accepts``) and those whose workers decode this version's payloads (``decoded_by``),
carried forward from build to build while every change stays compatible. The generated
``TaskDef`` carries both, and the runtime registry judges a deploy with them alone: it needs no
compatibility rules of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

from taskgen_codegen.check.compat import Finding
from taskgen_codegen.check.lock import Lock, LockTask

#: Earlier fingerprints kept per task and direction, newest first.
KEPT = 16


@dataclass(frozen=True)
class Lineage:
    """The earlier fingerprints a task's version is compatible with, per direction."""

    accepts: tuple[str, ...] = ()
    decoded_by: tuple[str, ...] = ()


NO_LINEAGE = Lineage()


def incompatible(
    wire: str, old: LockTask, new: LockTask, findings: Iterable[Finding]
) -> tuple[bool, bool]:
    """Whether new workers fail to decode old payloads, and old workers new payloads.

    The one place that reads ``taskgen check``'s findings for this: until its rules say which
    direction a change breaks, any breaking finding about the task counts as both.
    """
    types = set(old.types) | set(new.types)
    for finding in findings:
        anchor = finding.anchor
        mine = anchor[1] == wire if anchor[0] in ("task", "param") else anchor[1] in types
        if mine and finding.severity == "breaking":
            return True, True
    return False, False


def lineage_of(previous: Lock | None, current: Lock, findings: list[Finding]) -> dict[str, Lineage]:
    """The lineage of every task of ``current``, given the accepted lock and the findings of
    comparing the two."""
    lineages: dict[str, Lineage] = {}
    for wire, task in current.tasks.items():
        old = previous.tasks.get(wire) if previous is not None else None
        if old is None:
            lineages[wire] = NO_LINEAGE
        elif old.fingerprint == task.fingerprint:
            lineages[wire] = Lineage(old.accepts, old.decoded_by)
        else:
            breaks_new, breaks_old = incompatible(wire, old, task, findings)
            lineages[wire] = Lineage(
                () if breaks_new else _chain(old.fingerprint, old.accepts),
                () if breaks_old else _chain(old.fingerprint, old.decoded_by),
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
