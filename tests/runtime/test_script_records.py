"""The packed arguments of ``enqueue.lua`` and ``complete.lua``, read back by the scripts.

Both scripts read a whole record per ``struct.unpack`` call (``I4c0``: a length, then that many
bytes). Generated batches of every record kind, with values of any bytes (empty ones, and bytes
that look like lengths), must leave exactly the state the records describe.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskgen.runtime.keys import GROUP, LEVELS, QueueKeys
from taskgen.runtime.packing import number, pack
from taskgen.runtime.scripts import source
from taskgen.runtime.wire import TaskStatus

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    # One server for every example; each example empties it first.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

KEYS = QueueKeys("records")
VALUES = st.binary(max_size=200)
IDS = st.binary(min_size=1, max_size=40)
STATUSES = st.sampled_from([status.value.encode() for status in TaskStatus])


@pytest.fixture
def server(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


ended = st.fixed_dictionaries(
    {
        "kind": st.sampled_from([b"F", b"D"]),
        "stream": st.integers(0, len(LEVELS) - 1),
        "status": STATUSES,
        "outcome": VALUES,
        "ttl": st.integers(60_000, 10**9),
        "reply": st.one_of(st.just(b""), IDS.map(lambda c: b"reply:" + c)),
        "task": VALUES,
        "reason": VALUES,
        "envelope": VALUES,
    }
)
retried = st.fixed_dictionaries(
    {
        "kind": st.just(b"R"),
        "stream": st.integers(0, len(LEVELS) - 1),
        "envelope": VALUES,
        "delay": st.integers(0, 10**8),
    }
)
progressed = st.fixed_dictionaries(
    {"kind": st.just(b"P"), "progress": VALUES, "running": st.booleans()}
)


def _record(task_id: bytes, entry: bytes, r: dict[str, object]) -> bytes:
    kind = r["kind"]
    assert isinstance(kind, bytes)
    if kind == b"P":
        return pack([kind, task_id, r["progress"]])
    head = [kind, number(r["stream"]), entry, task_id]
    if kind == b"R":
        return pack([*head, r["envelope"], number(r["delay"])])
    values = [*head, r["status"], r["outcome"], number(r["ttl"]), r["reply"]]
    if kind == b"D":
        values += [r["task"], r["reason"], r["envelope"]]
    return pack(values)


@EXAMPLES
@given(
    st.lists(st.one_of(ended, retried, progressed), min_size=1, max_size=12),
    st.lists(IDS, min_size=12, max_size=12, unique=True),
)
def test_complete_reads_every_record_of_a_batch(
    server: redis.Redis, records: list[dict[str, object]], ids: list[bytes]
) -> None:
    server.flushdb()
    for stream in KEYS.streams:
        server.xgroup_create(stream, GROUP, id="0", mkstream=True)
    blob = []
    for task_id, r in zip(ids, records, strict=False):
        task = KEYS.task("").encode() + task_id
        entry = b""
        if r["kind"] != b"P" or r["running"]:
            server.hset(task, "s", "queued")
        if r["kind"] != b"P":
            stream = KEYS.streams[r["stream"]]
            entry = server.xadd(stream, {task_id: b"envelope"})
            server.xreadgroup(GROUP, "w", {stream: ">"})
        blob.append(_record(task_id, entry, r))
    complete = server.register_script(source("complete"))
    complete(
        keys=[*KEYS.streams, KEYS.delayed, KEYS.dead, KEYS.retrying, KEYS.throughput],
        args=[KEYS.base, b"".join(blob), GROUP, 1000, 7, 1],
    )

    counts = {b"7d": 0, b"7f": 0, b"7r": 0}
    for task_id, r in zip(ids, records, strict=False):
        task = KEYS.task("").encode() + task_id
        state = server.hgetall(task)
        if r["kind"] == b"P":
            assert state == ({b"s": b"queued", b"g": r["progress"]} if r["running"] else {})
            continue
        if r["kind"] == b"R":
            counts[b"7r"] += 1
            assert state == {b"s": b"scheduled", b"p": r["envelope"]}
            assert server.zscore(KEYS.delayed, task_id) is not None
            assert server.sismember(KEYS.retrying, task_id)
            continue
        counts[b"7d" if r["status"] == b"done" else b"7f"] += 1
        assert state[b"s"] == r["status"] and state[b"o"] == r["outcome"]
        assert 0 < server.pttl(task) <= r["ttl"]
        if r["kind"] == b"D":
            ((_, letter),) = server.xrange(KEYS.dead, state[b"d"], state[b"d"])
            assert letter == {
                b"id": task_id,
                b"task": r["task"],
                b"reason": r["reason"],
                b"envelope": r["envelope"],
                b"outcome": r["outcome"],
            }
        else:
            assert b"d" not in state
    for stream in KEYS.streams:
        assert server.xlen(stream) == 0
        assert server.xpending(stream, GROUP)["pending"] == 0
    stored = {k: int(v) for k, v in server.hgetall(KEYS.throughput).items()}
    assert stored == {k: v for k, v in counts.items() if v}


def test_complete_refuses_an_unknown_record_kind(server: redis.Redis) -> None:
    """A record it cannot read is refused with its kind, not read as another kind."""
    server.xgroup_create(KEYS.streams[1], GROUP, id="0", mkstream=True)
    entry = server.xadd(KEYS.streams[1], {b"t1": b"envelope"})
    server.xreadgroup(GROUP, "w", {KEYS.streams[1]: ">"})
    server.hset(KEYS.task("t1"), "s", "queued")
    record = pack([b"X", b"1", entry, b"t1", b"done", b"outcome", b"60000", b""])
    complete = server.register_script(source("complete"))
    with pytest.raises(redis.ResponseError, match="unknown record kind X"):
        complete(
            keys=[*KEYS.streams, KEYS.delayed, KEYS.dead, KEYS.retrying, KEYS.throughput],
            args=[KEYS.base, record, GROUP, 1000, 7, 1],
        )
    assert server.hgetall(KEYS.task("t1")) == {b"s": b"queued"}
    assert server.xpending(KEYS.streams[1], GROUP)["pending"] == 1


@EXAMPLES
@given(
    st.lists(
        st.tuples(
            IDS,
            st.sampled_from([int(level) for level in LEVELS]),
            st.sampled_from([0, 0, 1, 10**8]),
            VALUES,
            st.one_of(st.just(b""), IDS),
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda t: t[0],
    ),
    st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_enqueue_reads_every_task_of_a_batch(
    server: redis.Redis,
    tasks: list[tuple[bytes, int, int, bytes, bytes]],
    existing: list[bool],
) -> None:
    server.flushdb()
    for (task_id, *_), exists in zip(tasks, existing, strict=False):
        if exists:
            server.hset(KEYS.task("").encode() + task_id, "s", "done")
    blob = b"".join(
        pack([task_id, number(level), number(delay), envelope, reply])
        for task_id, level, delay, envelope, reply in tasks
    )
    enqueue = server.register_script(source("enqueue"))
    created = enqueue(keys=[KEYS.delayed], args=[KEYS.base, blob])

    assert created == [0 if exists else 1 for _, exists in zip(tasks, existing, strict=False)]
    ready: dict[bytes, tuple[bytes, bytes]] = {}
    for stream in KEYS.streams:
        for entry, fields in server.xrange(stream):
            ((task_id, envelope),) = fields.items()
            ready[task_id] = (entry, envelope)
    for (task_id, level, delay, envelope, reply), exists in zip(tasks, existing, strict=False):
        state = server.hgetall(KEYS.task("").encode() + task_id)
        if exists:
            assert state == {b"s": b"done"} and task_id not in ready
            continue
        expected = {b"l": number(level)}
        if reply:
            expected[b"c"] = reply
        if delay:
            expected |= {b"s": b"scheduled", b"p": envelope}
            assert server.zscore(KEYS.delayed, task_id) is not None
        else:
            entry, sent = ready.pop(task_id)
            expected |= {b"s": b"queued", b"e": entry}
            assert sent == envelope
            assert server.xrange(f"{KEYS.base}:ready:{level}", entry, entry)
        assert state == expected
    assert not ready
