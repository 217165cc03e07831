"""The decorator and options a contract module uses to declare tasks."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from typing import Any, Literal, TypeVar, overload

import msgspec

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute under which ``@task`` stores its options on the declared function.
TASK_ATTR = "__taskgen_task__"
#: Attribute under which ``@task`` stores the declared progress type (a type, not an option
#: value: the contract loader reads it like a result type).
PROGRESS_ATTR = "__taskgen_progress__"

#: How a task's parameter is passed: the contract's loader and generated task definitions agree.
ParamKind = Literal["positional_only", "positional", "keyword_only"]

_WIRE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")


class Priority(enum.IntEnum):
    """Which work a worker takes first: all HIGH before any NORMAL, all NORMAL before any LOW."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


class Retry(msgspec.Struct, frozen=True, kw_only=True):
    """How often a failing task is tried, and how long to wait between tries."""

    #: Total tries, the first included: ``attempts=1`` means no retry.
    attempts: int = 3
    #: Delay before the first retry, in seconds; doubles with each further retry.
    backoff: float = 1.0
    #: Upper bound of the delay between two tries, in seconds.
    max_delay: float = 300.0
    #: Spread each delay randomly over [delay/2, delay] so failed tasks do not retry in lockstep.
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"Retry(attempts={self.attempts}): attempts counts every try, so >= 1")
        if self.backoff < 0 or self.max_delay < 0:
            raise ValueError("Retry: backoff and max_delay are seconds, so >= 0")


NO_RETRY = Retry(attempts=1)

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Limit(msgspec.Struct, frozen=True, kw_only=True):
    """At most ``max`` tasks of one key value run at once, across all workers.

    ``key``: a dotted path over the task's parameters, e.g. ``"invoice.customer_id"``."""

    key: str
    max: int = 1

    def __post_init__(self) -> None:
        if self.max < 1:
            raise ValueError(f"Limit(max={self.max}): max counts running tasks, so >= 1")


class Rate(msgspec.Struct, frozen=True):
    """At most ``count`` task starts per ``period`` per key value: ``Rate("100/s", key=...)``.

    The limit is written ``<count>/<period>``: ``"100/s"``, ``"5/m"``, ``"1000/h"``,
    ``"10/30s"``; up to ``count`` tasks may start at once (the bucket's size)."""

    limit: str
    key: str

    def __post_init__(self) -> None:
        parse_rate(self.limit)


def parse_rate(limit: str) -> tuple[int, float]:
    """``(count, period in seconds)`` of a rate like ``"100/s"``; ValueError saying why not."""
    match = _RATE.match(limit)
    if match is None:
        raise ValueError(
            f"Rate({limit!r}): write <count>/<period>, e.g. '100/s', '5/m', '1000/h', '10/30s'"
        )
    count, every, unit = int(match[1]), match[2], match[3]
    period = (float(every) if every else 1.0) * _UNIT_SECONDS[unit]
    if count < 1 or period <= 0:
        raise ValueError(f"Rate({limit!r}): the count and the period must be > 0")
    return count, period


class Unique(msgspec.Struct, frozen=True, kw_only=True):
    """While a task of one key value is queued or running, enqueueing another of the same key
    value returns the existing task's handle; ``for_``: the most seconds that holds (None:
    until the task ends)."""

    key: str
    for_: float | None = None

    def __post_init__(self) -> None:
        if self.for_ is not None and self.for_ <= 0:
            raise ValueError(f"Unique(for_={self.for_}): seconds, so > 0 (or None)")


class Fair(msgspec.Struct, frozen=True, kw_only=True):
    """Serve the key values of ``key`` round-robin: at most ``window`` of the task's tasks wait
    on the queue's ready stream at once, and each freed place goes to the next key in turn,
    so one key's 100k tasks do not starve another's 10. ``window`` should be at least the
    workers' total concurrency for the task, or it caps how many run at once."""

    key: str
    window: int = 16

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"Fair(window={self.window}): window counts tasks, so >= 1")


class TaskOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The options given to ``@task``; the defaults are the runtime's."""

    queue: str = "default"
    name: str | None = None
    timeout: float | None = None
    retry: Retry = NO_RETRY
    priority: Priority = Priority.NORMAL
    result_ttl: float = 3600.0
    #: Flow control (docs/flow-control.md); None: none of it.
    concurrency: Limit | None = None
    rate: Rate | None = None
    unique: Unique | None = None
    fair: Fair | None = None


def validate_wire_name(value: str, what: str) -> str | None:
    """Say why ``value`` cannot be a wire name or queue name, or return None."""
    if not _WIRE_NAME.match(value):
        return (
            f"{what} {value!r} must start with a letter or '_' and contain only letters, "
            "digits and '_.:-'"
        )
    return None


@overload
def task(fn: F, /) -> F: ...


@overload
def task(
    *,
    queue: str = "default",
    name: str | None = None,
    timeout: float | None = None,
    retry: Retry | None = None,
    priority: Priority = Priority.NORMAL,
    result_ttl: float = 3600.0,
    progress: Any = None,
    concurrency: Limit | None = None,
    rate: Rate | None = None,
    unique: Unique | None = None,
    fair: Fair | None = None,
) -> Callable[[F], F]: ...


def task(
    fn: F | None = None,
    /,
    *,
    queue: str = "default",
    name: str | None = None,
    timeout: float | None = None,
    retry: Retry | None = None,
    priority: Priority = Priority.NORMAL,
    result_ttl: float = 3600.0,
    progress: Any = None,
    concurrency: Limit | None = None,
    rate: Rate | None = None,
    unique: Unique | None = None,
    fair: Fair | None = None,
) -> F | Callable[[F], F]:
    """Declare a task: a signature-only function (body ``...``) whose types are the contract.

    ``progress``: the type of the handler's progress reports (e.g. a msgspec Struct); without
    it a handler reports a number and a message. ``concurrency``, ``rate``, ``unique``,
    ``fair``: flow control per key value, checked by ``taskgen build`` (docs/flow-control.md)."""
    options = TaskOptions(
        queue=queue,
        name=name,
        timeout=timeout,
        retry=retry if retry is not None else NO_RETRY,
        priority=priority,
        result_ttl=result_ttl,
        concurrency=concurrency,
        rate=rate,
        unique=unique,
        fair=fair,
    )

    def mark(f: F) -> F:
        setattr(f, TASK_ATTR, options)
        if progress is not None:
            setattr(f, PROGRESS_ATTR, progress)
        return f

    return mark(fn) if fn is not None else mark
