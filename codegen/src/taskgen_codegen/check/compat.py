"""Comparing two locks: every change between an accepted contract and a new one, with its rule.

``compare(old, new)`` is the whole API: a list of ``Finding``, each with its ``Rule`` object, the
directions of a rolling deploy it breaks (``Direction``), whether it is in a task's arguments
or its result, and the place it points at. Types are compared by structure, not by name; the
tasks and their parameters are compared here, types in ``compat_types``, named types in
``compat_records``.
"""

from __future__ import annotations

from dataclasses import replace

from taskgen_codegen.check import rules as R
from taskgen_codegen.check.compat_base import Anchor, Finding, Place
from taskgen_codegen.check.compat_records import RecordDiff
from taskgen_codegen.check.defaults import wire_default
from taskgen_codegen.check.lock import Lock, LockParam, LockTask
from taskgen_codegen.check.rules import SEVERITIES, Direction, Position

__all__ = ["Anchor", "Break", "Finding", "breaks_by_task", "compare"]

#: One way a change breaks: a direction, and whether in a task's arguments or its result.
Break = tuple[Direction, Position]


def compare(old: Lock, new: Lock) -> list[Finding]:
    """Every change from ``old`` to ``new``, most serious first, then in contract order."""
    comparison = _Comparison(old, new)
    comparison.tasks()
    reaching = comparison.tasks_reaching()
    # A task's own finding concerns it; a type's, every task whose comparison reaches the
    # pairing it was made in (not every task that merely uses a type of that name).
    findings = [
        replace(f, tasks=reaching[pairing] if pairing else frozenset({f.anchor[1]}))
        for f, pairing in zip(comparison.findings, comparison.pairings, strict=True)
    ]
    order = {id(f): i for i, f in enumerate(findings)}
    return sorted(findings, key=lambda f: (-SEVERITIES.index(f.severity), order[id(f)]))


def breaks_by_task(old: Lock, new: Lock, findings: list[Finding]) -> dict[str, frozenset[Break]]:
    """For each task of either lock (by wire name), how the ``findings`` break it: what a
    registry records to tell which older fingerprints are compatible in which direction.

    A finding concerns the tasks ``compare`` found it for (``Finding.tasks``): a change inside
    a named type, the tasks whose own comparison reaches that type's comparison. A task is
    keyed by its new wire name; its old one, if it changed, breaks old-to-new.
    """
    out: dict[str, frozenset[Break]] = {}
    for wire in new.tasks:
        out[wire] = frozenset(
            (direction, f.position)
            for f in findings
            if wire in f.tasks
            for direction in f.directions
        )
    # A wire name the new contract lacks (a task removed, or renamed away): what is queued
    # under it finds no handler.
    for wire in old.tasks.keys() - new.tasks.keys():
        gone = {
            (direction, f.position)
            for f in findings
            if wire in f.tasks
            for direction in f.directions
        }
        out[wire] = frozenset(gone | {(R.OLD_TO_NEW, "args")})
    return out


class _Comparison(RecordDiff):
    def tasks(self) -> None:
        old, new = self.old.tasks, self.new.tasks
        by_function = {t.function: wire for wire, t in new.items() if wire not in old}
        functions_now = {t.function: wire for wire, t in new.items()}
        moved: set[str] = set()
        for wire, task in old.items():
            if wire in new:
                self.task(wire, task, new[wire], functions_now)
            elif task.function in by_function:
                renamed = by_function[task.function]
                moved.add(renamed)
                self.add(
                    R.WIRE_TASK_NAME_CHANGED,
                    Place(f"task {renamed}", ("task", renamed)),
                    f"wire name changed from {wire!r} to {renamed!r}: queued payloads of "
                    f"{wire!r} find no handler; pin `name={wire!r}` in @task to keep it",
                )
                self.task(renamed, task, new[renamed], functions_now)
            else:
                self.add(
                    R.WIRE_TASK_REMOVED,
                    Place(f"task {wire}", ("task", wire)),
                    "removed: keep it (and its handler) until no payload of it is queued",
                    side="old",
                )
        for wire in new:
            if wire not in old and wire not in moved:
                self.add(
                    R.WIRE_TASK_ADDED,
                    Place(f"task {wire}", ("task", wire)),
                    "added: deploy the workers that run it before the clients that enqueue it",
                )

    def task(self, wire: str, old: LockTask, new: LockTask, functions_now: dict[str, str]) -> None:
        self.root = wire
        place = Place(f"task {wire}", ("task", wire))
        if old.function != new.function:
            other = functions_now.get(old.function)
            if other is not None and other != wire:
                self.add(
                    R.WIRE_NAME_SWAPPED,
                    place,
                    f"wire name {wire!r} now runs {new.function}, and {old.function} now has "
                    f"{other!r}: queued {wire!r} payloads run the wrong handler",
                )
                # The function's own change is compared with the function, wherever it went.
                new = self.new.tasks[other]
            else:
                self.add(
                    R.SOURCE_TASK_MOVED,
                    place,
                    f"the client method moved from {old.function} to {new.function}",
                )
        if old.queue != new.queue:
            self.add(
                R.WIRE_QUEUE_CHANGED,
                place,
                f"queue changed from {old.queue!r} to {new.queue!r}: tasks already queued on "
                f"{old.queue!r} wait for a worker that no longer reads it",
            )
        if old.flow != new.flow:
            self.add(
                R.WIRE_FLOW_CONTROL_CHANGED,
                place,
                f"flow control changed from {_flow(old.flow)} to {_flow(new.flow)}: behaviour "
                "changes, and during the rollout tasks keyed both ways do not count together",
            )
        self.params(wire, old, new)
        returns = Place(f"task {wire}, return value", ("task", wire), "result")
        self.expr(old.returns, new.returns, returns)
        self.progress(wire, old, new)

    def progress(self, wire: str, old: LockTask, new: LockTask) -> None:
        """The progress type: a worker writes it and a client reads it, like a result."""
        place = Place(f"task {wire}, progress", ("task", wire), "progress")
        if old.progress is not None and new.progress is not None:
            self.expr(old.progress, new.progress, place)
        elif new.progress is not None:
            self.add(
                R.SOURCE_PROGRESS_TYPE_ADDED,
                place,
                f"now declares progress type {new.progress.spell()}: handlers report it instead "
                "of a number, and handle.progress() returns it; update both in this change",
            )
        elif old.progress is not None:
            self.add(
                R.SOURCE_PROGRESS_TYPE_REMOVED,
                place,
                f"no longer declares progress type {old.progress.spell()}: handlers report a "
                "number and a message, and handle.progress() returns a Progress",
            )

    def params(self, wire: str, old: LockTask, new: LockTask) -> None:
        before = {p.name: p for p in old.params}
        after = {p.name: p for p in new.params}
        for name, gone in before.items():
            if name not in after:
                self.param_removed(wire, gone)
        for name, param in after.items():
            place = Place(f"task {wire}, parameter {name}", ("param", wire, name))
            if name not in before:
                self.param_added(param, place)
                continue
            was = before[name]
            self.expr(was.type, param.type, place)
            if (
                was.default is not None
                and param.default is not None
                and wire_default(was.default, self.old) != wire_default(param.default, self.new)
            ):
                self.add(
                    R.SOURCE_DEFAULT_CHANGED,
                    place,
                    f"default changed from {was.default} to {param.default}: clients send "
                    "every argument, so only calls that leave it out send another value",
                )
            if was.default is not None and param.default is None:
                self.add(
                    R.SOURCE_PARAM_REQUIRED,
                    place,
                    f"lost its default {was.default}: calls that leave it out stop type-checking",
                )
            if _kind_breaks(was.kind, param.kind):
                self.add(
                    R.SOURCE_PARAM_KIND_CHANGED,
                    place,
                    f"changed from {was.kind.replace('_', '-')} to {param.kind.replace('_', '-')}",
                )
        self.param_positions(wire, old, new)

    def param_removed(self, wire: str, gone: LockParam) -> None:
        place = Place(f"task {wire}, parameter {gone.name}", ("param", wire, gone.name))
        if gone.default is None:
            self.add(
                R.WIRE_PARAM_REMOVED,
                place,
                "removed: old workers still require it (deploy them first) and calls that pass "
                "it stop type-checking; deprecate it with a default instead",
                side="old",
            )
        else:
            self.add(
                R.WIRE_PARAM_REMOVED,
                place,
                f"removed: old workers fill in its default {gone.default}, but calls that "
                "still pass it stop type-checking",
                directions=frozenset({R.SOURCE}),
                side="old",
            )

    def param_added(self, param: LockParam, place: Place) -> None:
        if param.default is None:
            self.add(
                R.WIRE_PARAM_ADDED_REQUIRED,
                place,
                "added without a default: payloads from old clients lack it; give it a default",
            )
        else:
            self.add(R.WIRE_PARAM_ADDED, place, f"added with default {param.default}")

    def param_positions(self, wire: str, old: LockTask, new: LockTask) -> None:
        """Positional calls of the old signature must reach the same parameters in the new."""
        was = [p.name for p in old.params if p.kind != "keyword_only"]
        now = [p.name for p in new.params if p.kind != "keyword_only"]
        for index, name in enumerate(was):
            if index < len(now) and now[index] != name:
                call = ", ".join(f"<{n}>" for n in was[: index + 1])
                self.add(
                    R.SOURCE_PARAM_MOVED,
                    Place(f"task {wire}", ("task", wire)),
                    f"position {index + 1} was {name}, is now {now[index]}: an existing call "
                    f"({call}) type-checks and sets {now[index]}; add parameters at the end or "
                    "keyword-only",
                )
                return


def _kind_breaks(was: str, now: str) -> bool:
    """Whether callers of the old signature can fail against the new one."""
    if was == now:
        return False
    # positional_only -> positional and keyword_only -> positional only widen what callers may do.
    return not (now == "positional" and was in ("positional_only", "keyword_only"))


def _flow(lines: tuple[str, ...]) -> str:
    return "; ".join(lines) if lines else "none"
