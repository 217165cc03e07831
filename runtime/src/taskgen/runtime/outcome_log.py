"""One log line per task outcome: task, id, attempt, duration, and how it ended.

Every worker has this observer first, so a run's ending is logged in one place. Each line also
carries its facts as record attributes (``task``, ``task_id``, ``queue``, ``attempt``,
``duration``, ``outcome``, ``error_type``), which ``--log-format json`` writes as fields.
"""

from __future__ import annotations

import logging

from taskgen.runtime.observe import Ending, Run, TaskObserver
from taskgen.runtime.wire import TaskStatus

log = logging.getLogger("taskgen.worker")


class OutcomeLog(TaskObserver):
    """Logs every run's ending: done and retried at INFO, dead-lettered at WARNING, rejected
    entries at ERROR."""

    def every_run(self) -> bool:
        """Plain successes are logged at INFO: without it, only the other endings matter."""
        return log.isEnabledFor(logging.INFO)

    def ended(self, run: Run, ending: Ending) -> None:
        """Write the run's line, if its level is enabled."""
        if ending.status is TaskStatus.REJECTED:
            level = logging.ERROR
        elif ending.dead:
            level = logging.WARNING
        else:
            level = logging.INFO
        if not log.isEnabledFor(level):
            return
        duration = run.duration
        error = ending.error
        fields = {
            "task": run.task,
            "task_id": run.task_id,
            "queue": run.queue,
            "attempt": run.attempt,
            "duration": round(duration, 6),
            "outcome": _outcome(ending),
            "error_type": error.type if error is not None else None,
        }
        log.log(level, "%s", _describe(run, ending, duration), extra=fields)


def _outcome(ending: Ending) -> str:
    if ending.retrying:
        return "retrying"
    if ending.dead and ending.status is not TaskStatus.REJECTED:
        return "dead"
    return ending.status.value


def _describe(run: Run, ending: Ending, duration: float) -> str:
    """The line: ``task shop.charge (id) attempt 2 failed in 0.013s, retrying in 4.00s: ...``."""
    head = f"task {run.task} ({run.task_id}) attempt {run.attempt}"
    took = f" in {duration:.3f}s" if run.started is not None else ""
    error = ending.error
    why = f": {error.type}: {error.message}" if error is not None else ""
    status = ending.status
    if status is TaskStatus.DONE:
        return f"{head} done{took}"
    if status is TaskStatus.REJECTED:
        return f"{head} rejected, dead-lettered{why}"
    if ending.retrying:
        return f"{head} {status.value}{took}, retrying in {ending.retry_in:.2f}s{why}"
    verb = status.value.replace("_", " ")
    if ending.dead:
        return f"{head} {verb}{took}, dead-lettered{why}"
    return f"{head} {verb}{why}"
