"""Errors a client or worker raises, each saying what happened to which task."""

from __future__ import annotations

from taskgen.errors import TaskgenError

__all__ = [
    "HandlerMismatch",
    "ResultMismatch",
    "ResultTimeout",
    "RetryLater",
    "TaskAborted",
    "TaskError",
    "TaskExpired",
    "TaskFailed",
    "TaskRejected",
    "TaskTimedOut",
    "TaskgenError",
]


class TaskError(TaskgenError):
    """A task ended without a value; ``task_id`` and ``task`` say which one."""

    def __init__(self, message: str, *, task_id: str, task: str) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.task = task


class TaskFailed(TaskError):
    """The handler raised; the remote exception's type, message and traceback are kept as text."""

    def __init__(
        self,
        *,
        task_id: str,
        task: str,
        error_type: str,
        error_message: str,
        remote_traceback: str,
        attempts: int,
    ) -> None:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(
            f"task {task} ({task_id}) failed{tries}: {error_type}: {error_message}",
            task_id=task_id,
            task=task,
        )
        self.error_type = error_type
        self.error_message = error_message
        self.remote_traceback = remote_traceback
        self.attempts = attempts


class TaskTimedOut(TaskFailed):
    """The handler ran longer than the task's timeout (on its last attempt)."""


class TaskRejected(TaskError):
    """The worker refused the task without running it: its payload did not fit the contract,
    or no worker knows its name. Rejected tasks are dead-lettered, never retried."""


class ResultMismatch(TaskError):
    """The task succeeded, but its value does not decode into this client's return type: the
    worker runs a contract whose return type differs. The task is not run again."""


class TaskAborted(TaskError):
    """The task was aborted before it finished."""


class TaskExpired(TaskError):
    """The task was not started before its expiry and was dropped."""


class ResultTimeout(TaskgenError, TimeoutError):
    """Waiting for a result took longer than the caller allowed; the task may still finish."""

    def __init__(self, *, task_id: str, task: str, timeout: float) -> None:
        super().__init__(f"no result for task {task} ({task_id}) within {timeout:g} s")
        self.task_id = task_id
        self.task = task
        self.timeout = timeout


class HandlerMismatch(TaskgenError):
    """Handlers that are missing or do not match their task; lists every one, not the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{len(problems)} handler problem(s):\n{listed}\n"
            "Fix the handlers (or run `taskgen build` after changing the contract)."
        )


class RetryLater(TaskgenError):
    """Raise from a handler to be tried again after ``delay`` seconds.

    The try counts as an attempt: once the task's retry policy is used up it fails."""

    def __init__(self, delay: float, reason: str = "") -> None:
        super().__init__(reason or f"retry requested in {delay:g} s")
        self.delay = delay
