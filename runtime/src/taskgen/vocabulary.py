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


class TaskOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The options given to ``@task``; the defaults are the runtime's."""

    queue: str = "default"
    name: str | None = None
    timeout: float | None = None
    retry: Retry = NO_RETRY
    priority: Priority = Priority.NORMAL
    result_ttl: float = 3600.0


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
) -> F | Callable[[F], F]:
    """Declare a task: a signature-only function (body ``...``) whose types are the contract.

    ``progress``: the type of the handler's progress reports (e.g. a msgspec Struct); without
    it a handler reports a number and a message."""
    options = TaskOptions(
        queue=queue,
        name=name,
        timeout=timeout,
        retry=retry if retry is not None else NO_RETRY,
        priority=priority,
        result_ttl=result_ttl,
    )

    def mark(f: F) -> F:
        setattr(f, TASK_ATTR, options)
        if progress is not None:
            setattr(f, PROGRESS_ATTR, progress)
        return f

    return mark(fn) if fn is not None else mark
