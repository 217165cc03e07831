"""OpenTelemetry: the enqueuer's trace context travels in the envelope, and the worker runs
each task in a CONSUMER span that is the child of the enqueue's PRODUCER span, across a real
client process and a real worker process, each with the SDK's in-memory exporter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis.asyncio

from taskgen.runtime import Call, Client
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.wire import ENVELOPE
from tests.fixtures.telemetry_worker import WORK, WorkArgs
from tests.support import REPO, worker_process

TELE = "tests.fixtures.telemetry_worker:worker"


def by_id(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["span_id"]: s for s in spans}


def children(spans: list[dict[str, Any]], parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in spans if s["parent"] == parent["span_id"]]


async def test_each_run_is_a_child_of_the_span_that_enqueued_it(
    redis_url: str, tmp_path: Path
) -> None:
    spans_file = tmp_path / "worker-spans.jsonl"
    env = {**os.environ, "TELE_SPANS": str(spans_file)}
    with worker_process(redis_url, target=TELE, env=env):
        done = subprocess.run(
            [sys.executable, "-m", "tests.fixtures.telemetry_client", redis_url],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    sent = [json.loads(line) for line in done.stdout.splitlines()]
    ran = [json.loads(line) for line in spans_file.read_text().splitlines()]

    (request,) = [s for s in sent if s["name"] == "request"]
    sends = [s for s in sent if s["kind"] == "PRODUCER"]
    assert [s["name"] for s in sends] == ["send tele"] * 3
    one, batch, blocking = sends
    assert one["parent"] == batch["parent"] == request["span_id"]
    assert blocking["parent"] is None, "the blocking enqueue ran outside the request span"
    assert batch["attributes"]["messaging.batch.message_count"] == 2
    for send in sends:
        assert send["attributes"]["messaging.system"] == "taskgen"
        assert send["attributes"]["messaging.destination.name"] == "tele"
        assert send["attributes"]["messaging.operation.type"] == "send"

    processes = [s for s in ran if s["kind"] == "CONSUMER"]
    assert all(s["name"] == "process tele" for s in processes)
    # Every run is the child of the send that enqueued it, in the same trace.
    (first,) = children(processes, one)
    (from_blocking,) = children(processes, blocking)
    from_batch = children(processes, batch)
    assert len(processes) == 1 + 1 + 3  # the failing task runs twice
    for run, send in [(first, one), (from_blocking, blocking), *[(r, batch) for r in from_batch]]:
        assert run["trace_id"] == send["trace_id"]
    assert first["attributes"]["messaging.message.id"] == one["attributes"]["messaging.message.id"]
    failing = sorted(
        (r for r in from_batch if r["attributes"]["taskgen.task.name"] == "tele.work"),
        key=lambda r: r["attributes"]["taskgen.task.attempt"],
    )
    assert [(r["attributes"]["taskgen.task.attempt"], r["status"]) for r in failing] == [
        (1, "ERROR"),
        (2, "ERROR"),
    ]
    assert [r["attributes"]["taskgen.task.outcome"] for r in failing] == ["retrying", "dead"]
    assert all(r["attributes"]["error.type"] == "ValueError" for r in failing)
    assert first["attributes"]["taskgen.task.outcome"] == "done"
    assert first["status"] == "UNSET"
    # A sync handler runs in a copy of the task's context: its own span is the run's child.
    (sync_run,) = [r for r in from_batch if r["attributes"]["taskgen.task.name"] == "tele.sync"]
    (inner,) = [s for s in ran if s["name"] == "inside the sync handler"]
    assert inner["parent"] == sync_run["span_id"]
    assert inner["trace_id"] == request["trace_id"]


async def test_without_a_tracer_provider_or_without_opentelemetry_no_context_is_sent(
    redis_url: str,
) -> None:
    """One process where OpenTelemetry cannot be imported at all, this one where it is
    installed but no provider is set: both enqueue, and no envelope carries a trace."""
    code = (
        "import sys, asyncio\n"
        "sys.modules['opentelemetry'] = None  # as if it were not installed\n"
        "from taskgen.runtime import Call, Client\n"
        "from tests.fixtures.telemetry_worker import WORK, WorkArgs\n"
        "async def main():\n"
        f"    async with Client.from_url({redis_url!r}, registry='off') as c:\n"
        "        await c.enqueue(WORK, WorkArgs(how='ok'))\n"
        "        await c.enqueue_many([Call(WORK, WorkArgs(how='ok'))])\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    async with Client.from_url(redis_url, registry="off") as client:
        await client.enqueue(WORK, WorkArgs(how="ok"))
        await client.enqueue_many([Call(WORK, WorkArgs(how="ok"))])
    server = redis.asyncio.Redis.from_url(redis_url)
    envelopes = [
        ENVELOPE.decode(payload)
        for stream in QueueKeys("tele").streams
        for _, fields in await server.xrange(stream)
        for payload in fields.values()
    ]
    await server.aclose()
    assert len(envelopes) == 4
    assert [e.trace for e in envelopes] == [None] * 4
