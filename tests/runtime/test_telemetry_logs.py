"""Logs: one line per task outcome (task, id, attempt, duration) from one observer; JSON lines
with ``--log-format json``; and every mistake a user can make at the command line answered in
one readable line with an exit code, never a traceback."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from typing import Any

import pytest

from taskgen.runtime import Binding, Client, EnqueueOptions, TaskFailed, TaskRejected
from taskgen.runtime.wire import TaskStatus
from tests.fixtures.telemetry_worker import UNKNOWN, WORK, WorkArgs, work
from tests.redis_server import free_port
from tests.support import REPO
from tests.tasks_fixture import running_worker

TELE = "tests.fixtures.telemetry_worker:worker"
FIELDS = ("task", "task_id", "queue", "attempt", "duration", "outcome")


def outcome_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if hasattr(r, "outcome")]


async def test_each_run_ending_is_one_line_with_task_id_attempt_and_duration(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taskgen.worker")
    binding = Binding(WORK, work, lambda ctx, a, _: work(ctx, a.how))
    async with Client.from_url(redis_url, registry="off") as client:
        # Enqueued before any worker runs, so it is past its expiry when one takes it.
        expired = await client.enqueue(WORK, WorkArgs(how="ok"), EnqueueOptions(expires=0.001))
        async with running_worker(redis_url, [binding]):
            ok = await client.enqueue(WORK, WorkArgs(how="ok"))
            failing = await client.enqueue(WORK, WorkArgs(how="fail"))
            rejected = await client.enqueue(UNKNOWN, WorkArgs(how="ok"))
            assert await ok.result(timeout=10) == "ok"
            with pytest.raises(TaskFailed):
                await failing.result(timeout=10)
            with pytest.raises(TaskRejected):
                await rejected.result(timeout=10)
            assert await client.status("tele", expired.id) is TaskStatus.EXPIRED
    lines = outcome_records(caplog)
    seen = sorted((r.task_id, r.attempt, r.outcome, r.levelname) for r in lines)  # type: ignore[attr-defined]
    assert seen == sorted(
        [
            (expired.id, 1, "expired", "INFO"),
            (ok.id, 1, "done", "INFO"),
            (failing.id, 1, "retrying", "INFO"),
            (failing.id, 2, "dead", "WARNING"),
            (rejected.id, 1, "rejected", "ERROR"),
        ]
    )
    for record in lines:
        assert all(hasattr(record, field) for field in FIELDS)
        message = record.getMessage()
        assert f"({record.task_id}) attempt {record.attempt}" in message  # type: ignore[attr-defined]
        assert record.task in message  # type: ignore[attr-defined]
    ran = [r for r in lines if r.outcome in {"done", "retrying", "dead"}]  # type: ignore[attr-defined]
    assert all(" in 0.0" in r.getMessage() for r in ran), [r.getMessage() for r in ran]
    # No other line repeats an outcome (execution.py used to log retries and dead letters).
    others = [r.getMessage() for r in caplog.records if not hasattr(r, "outcome")]
    assert not [m for m in others if failing.id in m or rejected.id in m], others


async def test_json_log_lines_carry_the_outcome_fields(redis_url: str) -> None:
    async with Client.from_url(redis_url, registry="off") as client:
        ok = await client.enqueue(WORK, WorkArgs(how="ok"))
        failing = await client.enqueue(WORK, WorkArgs(how="fail"))
        rejected = await client.enqueue(UNKNOWN, WorkArgs(how="ok"))
    done = subprocess.run(
        [sys.executable, "-m", "taskgen", "worker", TELE, "--burst", "--log-format", "json"],
        cwd=REPO,
        env={**os.environ, "TASKGEN_REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert {line["logger"] for line in lines} == {"taskgen.worker"}
    outcomes = sorted(
        (line["task_id"], line["attempt"], line["outcome"], line["level"])
        for line in lines
        if "outcome" in line
    )
    assert outcomes == sorted(
        [
            (ok.id, 1, "done", "INFO"),
            # --burst ends before the retry is due: a first attempt is all it runs.
            (failing.id, 1, "retrying", "INFO"),
            (rejected.id, 1, "rejected", "ERROR"),
        ]
    )
    for line in lines:
        if "outcome" in line:
            assert line["task"] in {"tele.work", "tele.unknown"} and line["queue"] == "tele"
            assert isinstance(line["duration"], float) and line["duration"] >= 0
            assert line["time"].endswith("+00:00") and line["message"]
    errors = {line["outcome"]: line["error_type"] for line in lines if "outcome" in line}
    assert errors == {"done": None, "retrying": "ValueError", "rejected": "UnknownTask"}


def _taken_port() -> tuple[socket.socket, int]:
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    return listener, listener.getsockname()[1]


#: (arguments, words the one line must hold, exit code); ``{busy}`` is a port in use and
#: ``{down}`` a URL where no Redis answers.
MISTAKES: list[tuple[str, str, int]] = [
    ("worker nocolon", "expected module:attribute", 2),
    ("worker tests.fixtures.telemetry_worker:nothing", "has no 'nothing'", 2),
    ("worker tests.fixtures.telemetry_worker:work", "not a taskgen Worker", 2),
    ("worker tests.fixtures.raises_on_import:worker", "RuntimeError: SHOP_DSN is not set", 2),
    (f"worker {TELE} --redis-url localhost:6379", "is not a Redis URL", 2),
    (f"worker {TELE} --redis-url redis://host:port/0", "is not a Redis URL", 2),
    (f"worker {TELE} --log-level loud", "--log-level 'loud'", 2),
    (f"worker {TELE} --log-format xml", "--log-format 'xml'", 2),
    (f"worker {TELE} --concurrency 0", "--concurrency", 2),
    (f"worker {TELE} --concurrency many", "--concurrency", 2),
    (f"worker {TELE} --processes 0", "--processes", 2),
    (f"worker {TELE} --metrics-port 70000", "--metrics-port", 2),
    (f"worker {TELE} --metrics-port {{busy}}", "cannot serve metrics", 2),
    (f"worker {TELE} --no-such-option", "No such option", 2),
    ("worker", "Missing argument", 2),
    ("dead list tele --redis-url nope", "--redis-url 'nope'", 2),
    ("dead list tele --redis-url {down}", "cannot use Redis at", 1),
    ("dead requeue tele --redis-url {down} --all", "cannot use Redis at", 1),
    ("dead purge tele", "or pass --all", 2),
    ("frobnicate", "No such command", 2),
    ("check --format xml", "--format is text, github or json", 2),
]


@pytest.mark.parametrize(("arguments", "words", "code"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_command_line_mistake_is_one_readable_line(
    arguments: str, words: str, code: int, redis_url: str
) -> None:
    listener, busy = _taken_port()
    down = f"redis://127.0.0.1:{free_port()}/0"
    argv = arguments.format(busy=busy, down=down).split()
    with listener:
        done = subprocess.run(
            [sys.executable, "-m", "taskgen", *argv],
            cwd=REPO,
            env={**os.environ, "TASKGEN_REDIS_URL": redis_url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    errors: list[Any] = done.stderr.splitlines()
    assert done.returncode == code, done.stderr
    assert len(errors) == 1, done.stderr
    assert words in errors[0], done.stderr
    assert "Traceback" not in done.stderr and "╭" not in done.stderr


async def test_at_warning_a_success_costs_no_run_and_a_failure_line_keeps_its_duration(
    redis_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With INFO off, no observer needs plain successes: no Run is made at a start (the hot
    path stays as without observers); a dead-letter line still says how long the run took."""
    caplog.set_level(logging.WARNING, logger="taskgen.worker")

    def no_run_at_start(*args: object) -> None:
        raise AssertionError("a Run was made at a start")

    monkeypatch.setattr("taskgen.runtime.execution.Run", no_run_at_start)
    binding = Binding(WORK, work, lambda ctx, a, _: work(ctx, a.how))
    async with (
        Client.from_url(redis_url, registry="off") as client,
        running_worker(redis_url, [binding], tracing=False),
    ):
        ok = await client.enqueue(WORK, WorkArgs(how="ok"))
        failing = await client.enqueue(WORK, WorkArgs(how="fail"))
        assert await ok.result(timeout=10) == "ok"
        with pytest.raises(TaskFailed):
            await failing.result(timeout=10)
    (line,) = outcome_records(caplog)
    assert line.outcome == "dead" and line.task_id == failing.id  # type: ignore[attr-defined]
    assert " in 0.0" in line.getMessage() and line.duration > 0  # type: ignore[attr-defined]
