"""Typed chains, groups and chords, as callers build them: composed from ``<task>.call(...)``,
checked by mypy, then started with ``tasks.start(...)`` (see docs/workflows.md).

``call.then(step)`` makes a ``Chain``: each step receives the previous step's value as its
first argument (further arguments bound with ``<task>.bind(...)``). ``group(calls)`` makes a
``Group`` whose handle awaits every member's value; ``group(...).then(step)`` makes a
``Chord``: its callback receives all the values, in member order, once the last member is done.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar, overload

import msgspec

from taskgen.runtime import bigint
from taskgen.runtime.taskdef import NO_OPTIONS, Call, EnqueueOptions, TaskDef

F = TypeVar("F", contravariant=True)
R_co = TypeVar("R_co", covariant=True)
R = TypeVar("R")
R1 = TypeVar("R1")
R2 = TypeVar("R2")
R3 = TypeVar("R3")
R4 = TypeVar("R4")
R5 = TypeVar("R5")
T = TypeVar("T")


def _without_flow_control(task: TaskDef[Any, Any]) -> None:
    """Refuse a flow-controlled task: chains, groups and chords enqueue past its gate."""
    if task.flow is not None:
        raise TypeError(
            f"task {task.name} declares flow control (concurrency, rate, unique or fair), "
            "which chains, groups and chords do not pass through yet: enqueue it on its own"
        )


class Step(Generic[F, R_co]):
    """A task that waits for its first argument, the value of the step before it; made by
    ``<task>.bind(...)`` with its other arguments, or by passing the task itself."""

    __slots__ = ("bound", "options", "task")

    def __init__(
        self, task: TaskDef[Any, Any], bound: dict[str, Any], options: EnqueueOptions = NO_OPTIONS
    ) -> None:
        _without_flow_control(task)
        params = task.params
        if not params or params[0][1] == "keyword_only":
            raise TypeError(
                f"task {task.name} cannot follow another step: its first parameter must be "
                "positional, to receive the previous step's value"
            )
        if options.delay is not None or options.at is not None or options.expires is not None:
            raise ValueError(
                f"step {task.name}: delay, at and expires do not apply to a chain's later "
                "steps, which start when the step before them ends; give them to the first call"
            )
        self.task = task
        self.bound = bound
        self.options = options

    @property
    def first(self) -> str:
        """The parameter that receives the previous step's value."""
        return self.task.params[0][0]

    def encoded_bound(self) -> msgspec.Raw:
        """The bound arguments as the msgpack map the worker completes."""
        return msgspec.Raw(bigint.encode(self.bound))

    def __repr__(self) -> str:
        return f"Step({self.task.name!r}, bound={sorted(self.bound)})"


class Chainable(Generic[F, R_co]):
    """Base of each generated task class whose parameters after the first all have defaults:
    the task itself can be a step, ``.then(tasks.emails.send_receipt)``."""

    __slots__ = ()


def as_step(step: Step[Any, Any] | Chainable[Any, Any]) -> Step[Any, Any]:
    """A step, from a ``Step`` or a chainable task class."""
    if isinstance(step, Step):
        return step
    made = getattr(step, "_step", None)
    if made is None:
        raise TypeError(f"{step!r} is not a step: pass <task>.bind(...) or a task")
    result: Step[Any, Any] = made({})
    return result


class Chain(Generic[T]):
    """A first call and the steps after it; its handle awaits the last step's value."""

    __slots__ = ("first", "steps")

    def __init__(self, first: Call[Any], steps: tuple[Step[Any, Any], ...] = ()) -> None:
        _without_flow_control(first.task)
        self.first = first
        self.steps = steps

    def then(self, step: Step[T, R] | Chainable[T, R]) -> Chain[R]:
        """This chain, then ``step`` with this chain's value as its first argument."""
        return Chain(self.first, (*self.steps, as_step(step)))

    def __repr__(self) -> str:
        names = [self.first.task.name, *(s.task.name for s in self.steps)]
        return f"Chain({' -> '.join(names)})"


class Group(Generic[T]):
    """Calls that run independently; the handle awaits all their values, in order."""

    __slots__ = ("calls", "tuple")

    def __init__(self, calls: list[Call[Any]], *, as_tuple: bool) -> None:
        for call in calls:
            _without_flow_control(call.task)
        self.calls = calls
        #: Whether the values come back as a tuple (members of several types) or a list.
        self.tuple = as_tuple

    def then(self, step: Step[T, R] | Chainable[T, R]) -> Chord[R]:
        """A chord: ``step`` runs once, with every member's value, when all are done."""
        if not self.calls:
            raise ValueError("a chord needs at least one member: its callback waits for them")
        return Chord(self, (as_step(step),))

    def __len__(self) -> int:
        return len(self.calls)


class Chord(Generic[T]):
    """A group and a callback (and steps after it); the handle awaits the last step's value."""

    __slots__ = ("group", "steps")

    def __init__(self, group: Group[Any], steps: tuple[Step[Any, Any], ...]) -> None:
        self.group = group
        self.steps = steps

    def then(self, step: Step[T, R] | Chainable[T, R]) -> Chord[R]:
        """This chord, then ``step`` with the callback chain's value as its first argument."""
        return Chord(self.group, (*self.steps, as_step(step)))


@overload
def group(calls: Iterable[Call[R]], /) -> Group[list[R]]: ...
@overload
def group(c1: Call[R1], /) -> Group[tuple[R1]]: ...
@overload
def group(c1: Call[R1], c2: Call[R2], /) -> Group[tuple[R1, R2]]: ...
@overload
def group(c1: Call[R1], c2: Call[R2], c3: Call[R3], /) -> Group[tuple[R1, R2, R3]]: ...
@overload
def group(
    c1: Call[R1], c2: Call[R2], c3: Call[R3], c4: Call[R4], /
) -> Group[tuple[R1, R2, R3, R4]]: ...
@overload
def group(
    c1: Call[R1], c2: Call[R2], c3: Call[R3], c4: Call[R4], c5: Call[R5], /
) -> Group[tuple[R1, R2, R3, R4, R5]]: ...
def group(*calls: Any) -> Group[Any]:
    """Calls to run at once: ``group(list_of_calls)`` awaits a ``list`` of their values,
    ``group(a, b, ...)`` (up to five, of any tasks) a ``tuple`` typed member by member."""
    if len(calls) == 1 and not isinstance(calls[0], Call):
        members = list(calls[0])
        as_tuple = False
    else:
        members = list(calls)
        as_tuple = True
    for member in members:
        if not isinstance(member, Call):
            raise TypeError(f"group member {member!r} is not a call: use <task>.call(...)")
    return Group(members, as_tuple=as_tuple)
