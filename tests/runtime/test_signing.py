"""Signed messages against a real Redis: signed tasks run, forgeries are dead-lettered undecoded,
forged outcomes are refused, keys rotate, and nothing is re-signed that was not verified."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
import redis.asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskgen.dashboard.board import Board
from taskgen.runtime import (
    Binding,
    Call,
    Client,
    Context,
    EnqueueOptions,
    RetryLater,
    SignatureRefused,
    Signing,
    SyncClient,
    TaskAborted,
    TaskDef,
    TaskRejected,
)
from taskgen.runtime.cron import Cron
from taskgen.runtime.deadletters import DeadLetters
from taskgen.runtime.signing import HEADER_SIZE, MAGIC, unverified
from taskgen.runtime.wire import (
    ENCODER,
    OUTCOME,
    Envelope,
    Outcome,
    TaskStatus,
    new_task_id,
    now_ms,
)
from taskgen.testing import EagerClient
from taskgen.vocabulary import Retry
from tests.support import worker_process
from tests.tasks_fixture import ADD, SLEEP, AddArgs, SleepArgs, bind_add, running_worker

KEY, OLD, NEW, OTHER = (bytes([c]) * 32 for c in b"kong")
READY = "taskgen:{math}:ready:1"
DEAD = "taskgen:{math}:dead"


class SpyArgs(msgspec.Struct, frozen=True, kw_only=True):
    """Arguments that count every time they are decoded."""

    a: int

    def __post_init__(self) -> None:
        DECODED.append(self.a)


DECODED: list[int] = []

SPY = TaskDef[SpyArgs, int](
    name="math.spy",
    queue="math",
    fingerprint="spy-v1",
    args=SpyArgs,
    result=int,
    params=(("a", "positional"),),
)


async def spy(ctx: Context, a: int) -> int:
    return a * 2


def bind_spy() -> Binding[SpyArgs, int]:
    return Binding(SPY, spy, lambda ctx, args, _: spy(ctx, args.a))


def envelope(task_id: str, a: int = 1) -> bytes:
    """An encoded envelope of SPY, as a client would write it before signing."""
    args = msgspec.Raw(ENCODER.encode(SpyArgs(a=a)))
    return ENCODER.encode(Envelope(task_id, SPY.name, SPY.fingerprint, args, now_ms()))


def dead_letters(entries: list[Any]) -> dict[str, tuple[str, str]]:
    """Dead letters by task id: (the kind of error recorded, the reason)."""
    letters = {}
    for _, fields in entries:
        outcome = OUTCOME.decode(unverified(fields[b"outcome"]))
        assert outcome.error is not None
        letters[fields[b"id"].decode()] = (outcome.error.type, fields[b"reason"].decode())
    return letters


async def test_signed_tasks_run_and_everything_written_is_signed(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    signing = Signing(KEY)
    async with (
        Client.from_url(redis_url, registry="off", signing=signing) as client,
        running_worker(redis_url, [bind_add()], signing=signing),
    ):
        one = await client.enqueue(ADD, AddArgs(a=2, b=3))
        later = await client.enqueue(ADD, AddArgs(a=1, b=1), EnqueueOptions(delay=0.05))
        many = await client.enqueue_many([Call(ADD, AddArgs(a=i, b=i)) for i in range(5)])
        assert await one.result(timeout=10) == 5
        assert await later.result(timeout=10) == 2
        assert [await h.result(timeout=10) for h in many] == [0, 2, 4, 6, 8]
        stored = await r.hget(f"taskgen:{{math}}:task:{one.id}", "o")
        assert stored is not None and stored.startswith(MAGIC)
        # Another client holding the key reads the stored outcome, by the task's id.
        async with Client.from_url(redis_url, registry="off", signing=signing) as reader:
            assert await reader.handle(ADD, one.id).result(timeout=10) == 5
    assert await r.xlen(DEAD) == 0


async def test_every_entry_a_client_writes_is_signed_for_its_task(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url, registry="off", signing=Signing(KEY)) as client:
        now = await client.enqueue(ADD, AddArgs(a=1, b=2))
        later = await client.enqueue(ADD, AddArgs(a=1, b=2), EnqueueOptions(delay=60))
    (entry,) = await r.xrange(READY)
    ((field, frame),) = entry[1].items()
    assert field.decode() == now.id
    assert Signing(KEY).open_envelope(frame, "math", now.id.encode())[:1] != MAGIC
    delayed = await r.hget(f"taskgen:{{math}}:task:{later.id}", "p")
    assert delayed is not None
    Signing(KEY).open_envelope(delayed, "math", later.id.encode())


FORGERIES: dict[str, tuple[str, Callable[[str], bytes]]] = {
    "unsigned": ("Unsigned", lambda tid: envelope(tid)),
    "another key": ("BadSignature", lambda tid: Signing(OTHER).sign_envelope(
        envelope(tid), "math", tid.encode())),
    "another task id": ("BadSignature", lambda tid: Signing(KEY).sign_envelope(
        envelope(tid), "math", b"another-id")),
    "another queue": ("BadSignature", lambda tid: Signing(KEY).sign_envelope(
        envelope(tid), "other", tid.encode())),
    "signed as an outcome": ("BadSignature", lambda tid: Signing(KEY).sign_outcome(
        envelope(tid), "math", tid.encode())),
    "truncated frame": ("BadSignature", lambda tid: Signing(KEY).sign_envelope(
        envelope(tid), "math", tid.encode())[: HEADER_SIZE - 1]),
    "changed payload": ("BadSignature", lambda tid: Signing(KEY).sign_envelope(
        envelope(tid), "math", tid.encode())[:-1] + b"\x02"),
    "not msgpack behind a forged header": ("BadSignature", lambda tid: MAGIC + b"\x00" * 40
        + b"\xc1" * 100),
}  # fmt: skip


async def test_forged_entries_are_dead_lettered_undecoded_and_the_worker_keeps_draining(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    forged = {name: new_task_id() for name in FORGERIES}
    for name, task_id in forged.items():
        await r.xadd(READY, {task_id: FORGERIES[name][1](task_id)})
    DECODED.clear()
    signing = Signing(KEY)
    async with (
        running_worker(redis_url, [bind_spy()], signing=signing),
        Client.from_url(redis_url, registry="off", signing=signing) as client,
    ):
        genuine = await client.enqueue(SPY, SpyArgs(a=21))
        assert await genuine.result(timeout=10) == 42
        for name, task_id in forged.items():
            with pytest.raises(TaskRejected, match=FORGERIES[name][0]):
                await client.handle(SPY, task_id).result(timeout=10)
    assert DECODED == [21, 21]  # the client's encoding check and the worker: the genuine only
    letters = dead_letters(await r.xrange(DEAD))
    assert {tid: kind for tid, (kind, _) in letters.items()} == {
        tid: FORGERIES[name][0] for name, tid in forged.items()
    }
    assert all("not decoded" in reason for _, reason in letters.values())
    for kind, reason in letters.values():  # each says what to do
        assert ("--allow-unsigned" if kind == "Unsigned" else "old_keys") in reason
    assert (await r.xpending(READY, "taskgen"))["pending"] == 0


@st.composite
def forgery(draw: st.DrawFn, task_id: str) -> bytes:
    """A changed copy of a genuine signed entry: bytes flipped, cut, added, or re-bound."""
    frame = Signing(KEY).sign_envelope(envelope(task_id), "math", task_id.encode())
    how = draw(st.sampled_from(["flip", "cut", "append", "rebind"]))
    if how == "flip":
        at = draw(st.integers(0, len(frame) - 1))
        return frame[:at] + bytes([frame[at] ^ draw(st.integers(1, 255))]) + frame[at + 1 :]
    if how == "cut":
        return frame[: draw(st.integers(0, len(frame) - 1))]
    if how == "append":
        return frame + draw(st.binary(min_size=1, max_size=8))
    other = draw(st.text(min_size=1, max_size=8).filter(lambda t: t != task_id))
    return Signing(KEY).sign_envelope(envelope(task_id), "math", other.encode())


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_generated_forgeries_are_all_refused_undecoded(redis_url: str, data: st.DataObject) -> None:
    ids = [new_task_id() for _ in range(data.draw(st.integers(1, 6), label="count"))]
    entries = {tid: data.draw(forgery(tid), label="forgery") for tid in ids}

    async def run() -> dict[str, tuple[str, str]]:
        r = redis.asyncio.Redis.from_url(redis_url)
        await r.flushdb()
        for task_id, frame in entries.items():
            await r.xadd(READY, {task_id: frame})
        signing = Signing(KEY)
        async with (
            running_worker(redis_url, [bind_spy()], signing=signing),
            Client.from_url(redis_url, registry="off", signing=signing) as client,
        ):
            assert await (await client.enqueue(SPY, SpyArgs(a=1))).result(timeout=10) == 2
            for task_id in ids:
                with pytest.raises(TaskRejected):
                    await client.handle(SPY, task_id).result(timeout=10)
        letters = dead_letters(await r.xrange(DEAD))
        await r.aclose()
        return letters

    DECODED.clear()
    letters = asyncio.run(run())
    assert DECODED == [1, 1]
    assert set(letters) == set(ids)
    assert {kind for kind, _ in letters.values()} <= {"Unsigned", "BadSignature"}


def outcome(value: int) -> bytes:
    return ENCODER.encode(Outcome(TaskStatus.DONE, msgspec.Raw(ENCODER.encode(value))))


OUTCOME_FORGERIES: dict[str, Callable[[str], bytes]] = {
    "unsigned": lambda tid: outcome(666),
    "another key": lambda tid: Signing(OTHER).sign_outcome(outcome(666), "math", tid.encode()),
    "another task's genuine outcome": lambda tid: Signing(KEY).sign_outcome(
        outcome(666), "math", b"another-task"),
    "another queue": lambda tid: Signing(KEY).sign_outcome(outcome(666), "other", tid.encode()),
    "signed as an envelope": lambda tid: Signing(KEY).sign_envelope(
        outcome(666), "math", tid.encode()),
    "changed": lambda tid: Signing(KEY).sign_outcome(outcome(666), "math", tid.encode())[:-1]
        + b"\x01",
}  # fmt: skip


@pytest.mark.parametrize("name", list(OUTCOME_FORGERIES))
async def test_a_forged_stored_outcome_is_refused_naming_the_task(
    redis_url: str, name: str
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url, registry="off", signing=Signing(KEY)) as client:
        handle = await client.enqueue(ADD, AddArgs(a=1, b=1))
        forged = OUTCOME_FORGERIES[name](handle.id)
        await r.hset(f"taskgen:{{math}}:task:{handle.id}", mapping={"s": "done", "o": forged})
        with pytest.raises(SignatureRefused) as refused:
            await client.handle(ADD, handle.id).result(timeout=10)
    assert refused.value.task_id == handle.id and handle.id in str(refused.value)
    assert refused.value.kind == ("Unsigned" if name == "unsigned" else "BadSignature")


@st.composite
def forged_outcome(draw: st.DrawFn, task_id: str) -> bytes:
    """A changed copy of a genuine signed outcome of ``task_id``."""
    value = draw(st.integers(-(2**63), 2**63 - 1))
    frame = Signing(KEY).sign_outcome(outcome(value), "math", task_id.encode())
    how = draw(st.sampled_from(["flip", "cut", "append", "rebind", "unsigned"]))
    if how == "flip":
        at = draw(st.integers(0, len(frame) - 1))
        return frame[:at] + bytes([frame[at] ^ draw(st.integers(1, 255))]) + frame[at + 1 :]
    if how == "cut":
        return frame[: draw(st.integers(0, len(frame) - 1))]
    if how == "append":
        return frame + draw(st.binary(min_size=1, max_size=8))
    if how == "unsigned":
        return frame[HEADER_SIZE:]
    other = draw(st.text(min_size=1, max_size=40).filter(lambda t: t != task_id))
    return Signing(KEY).sign_outcome(frame[HEADER_SIZE:], "math", other.encode())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_generated_outcome_forgeries_are_all_refused(redis_url: str, data: st.DataObject) -> None:
    task_id = new_task_id()
    forged = data.draw(forged_outcome(task_id), label="forged")

    async def read() -> None:
        r = redis.asyncio.Redis.from_url(redis_url)
        await r.hset(f"taskgen:{{math}}:task:{task_id}", mapping={"s": "done", "o": forged})
        async with Client.from_url(redis_url, registry="off", signing=Signing(KEY)) as client:
            with pytest.raises(SignatureRefused) as refused:
                await client.handle(ADD, task_id).result(timeout=10)
        assert refused.value.task_id == task_id
        await r.aclose()

    asyncio.run(read())


async def test_a_forged_outcome_published_to_a_waiting_client_is_refused(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url, registry="off", signing=Signing(KEY)) as client:
        handle = await client.enqueue(ADD, AddArgs(a=1, b=1))
        waiting = asyncio.create_task(handle.result(timeout=10))
        channel = f"taskgen:{{math}}:done:{handle.id}"
        async with asyncio.timeout(10):
            while not (await r.pubsub_numsub(channel))[0][1]:
                await asyncio.sleep(0.01)
        await r.publish(channel, outcome(666))
        with pytest.raises(SignatureRefused, match=handle.id):
            await waiting


async def test_a_client_aborting_signs_the_outcome_it_records(redis_url: str) -> None:
    async with Client.from_url(redis_url, registry="off", signing=Signing(KEY)) as client:
        handle = await client.enqueue(ADD, AddArgs(a=1, b=1))
        assert await handle.abort()
        with pytest.raises(TaskAborted):
            await handle.result(timeout=10)


FLAKY_SPY = TaskDef[SpyArgs, int](
    name="math.flaky_spy",
    queue="math",
    fingerprint="fs-v1",
    args=SpyArgs,
    result=int,
    params=(("a", "positional"),),
)


async def test_retries_and_cron_tasks_the_worker_writes_are_signed(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)

    async def flaky(ctx: Context, a: int) -> int:
        if ctx.attempt == 1:
            raise RetryLater(0.01)
        return ctx.attempt

    binding = Binding(FLAKY_SPY, flaky, lambda ctx, args, _: flaky(ctx, args.a))
    cron = Cron(ADD, AddArgs(a=4, b=5), every=0.1)
    signing = Signing(KEY)
    async with (
        Client.from_url(redis_url, registry="off", signing=signing) as client,
        running_worker(
            redis_url,
            [binding, bind_add()],
            signing=signing,
            cron=[cron],
            retries={FLAKY_SPY.name: Retry(attempts=3, backoff=0.01)},
        ),
    ):
        assert await (await client.enqueue(FLAKY_SPY, SpyArgs(a=1))).result(timeout=10) == 2
        async with asyncio.timeout(10):
            while not (fired := await r.keys("taskgen:{math}:task:cron:*")):
                await asyncio.sleep(0.02)
        cron_id = fired[0].decode().rsplit(":task:", 1)[1]
        assert await client.handle(ADD, cron_id).result(timeout=10) == 9
    assert await r.xlen(DEAD) == 0


async def test_key_rotation_accept_then_sign_then_drop(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    accepting = Signing(OLD, old_keys=[NEW])  # step 1: NEW accepted everywhere, OLD still signs
    switched = Signing(NEW, old_keys=[OLD])  # step 2: NEW signs, OLD still accepted
    final = Signing(NEW)  # step 3: OLD dropped
    url = redis_url
    async with (
        Client.from_url(url, registry="off", signing=Signing(OLD)) as before,
        Client.from_url(url, registry="off", signing=accepting) as step1,
        Client.from_url(url, registry="off", signing=switched) as step2,
        Client.from_url(url, registry="off", signing=final) as step3,
    ):
        async with running_worker(url, [bind_add()], signing=accepting):
            # A client not yet given NEW and a step-1 one both work with a step-1 worker.
            assert await (await before.enqueue(ADD, AddArgs(a=1, b=0))).result(timeout=10) == 1
            assert await (await step1.enqueue(ADD, AddArgs(a=2, b=0))).result(timeout=10) == 2
            # A step-2 client (signing with NEW) works with a worker still at step 1.
            assert await (await step2.enqueue(ADD, AddArgs(a=3, b=0))).result(timeout=10) == 3
        leftover = await step1.enqueue(ADD, AddArgs(a=4, b=0))  # signed with OLD, not run yet
        async with running_worker(url, [bind_add()], signing=switched):
            # The step-2 worker signs its outcomes with NEW: step-1 clients accept them.
            assert await leftover.result(timeout=10) == 4
            assert await (await step2.enqueue(ADD, AddArgs(a=5, b=0))).result(timeout=10) == 5
        stale = await step1.enqueue(ADD, AddArgs(a=6, b=0))  # OLD, after OLD was dropped
        async with running_worker(url, [bind_add()], signing=final):
            assert await (await step3.enqueue(ADD, AddArgs(a=7, b=0))).result(timeout=10) == 7
            with pytest.raises(TaskRejected, match="unknown key"):
                await stale.result(timeout=10)
    assert [kind for kind, _ in dead_letters(await r.xrange(DEAD)).values()] == ["BadSignature"]


async def test_allow_unsigned_runs_unsigned_tasks_but_still_refuses_forged_ones(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    rollout = Signing(KEY, allow_unsigned=True)
    forged = new_task_id()
    await r.xadd(READY, {forged: FORGERIES["another key"][1](forged)})
    async with (
        Client.from_url(redis_url, registry="off") as unsigned,
        Client.from_url(redis_url, registry="off", signing=rollout) as signed,
        running_worker(redis_url, [bind_spy()], signing=rollout),
    ):
        assert await (await unsigned.enqueue(SPY, SpyArgs(a=1))).result(timeout=10) == 2
        assert await (await signed.enqueue(SPY, SpyArgs(a=2))).result(timeout=10) == 4
        with pytest.raises(TaskRejected, match="unknown key"):
            await signed.handle(SPY, forged).result(timeout=10)
        # An unsigned outcome is accepted in this mode; a forged signed one still is not.
        handle = await signed.enqueue(SPY, SpyArgs(a=3), EnqueueOptions(delay=60))
        await r.hset(f"taskgen:{{math}}:task:{handle.id}", mapping={"o": outcome(6)})
        assert await signed.handle(SPY, handle.id).result(timeout=10) == 6
        forged_outcome = OUTCOME_FORGERIES["another key"](handle.id)
        await r.hset(f"taskgen:{{math}}:task:{handle.id}", mapping={"o": forged_outcome})
        with pytest.raises(SignatureRefused):
            await signed.handle(SPY, handle.id).result(timeout=10)


async def test_without_a_key_signed_messages_are_read_unchecked_and_with_one_unsigned_refused(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with (
        Client.from_url(redis_url, registry="off", signing=Signing(KEY)) as signed,
        Client.from_url(redis_url, registry="off") as plain,
    ):
        async with running_worker(redis_url, [bind_add()]):
            # A worker holding no key runs a signed task (a rollout where clients sign first);
            # a client holding no key reads its outcome, and a client holding one refuses it.
            handle = await signed.enqueue(ADD, AddArgs(a=1, b=2))
            assert await plain.handle(ADD, handle.id).result(timeout=10) == 3
            with pytest.raises(SignatureRefused, match="unsigned"):
                await handle.result(timeout=10)
        async with running_worker(redis_url, [bind_add()], signing=Signing(KEY)):
            # A worker holding a key refuses the unsigned task; its signed outcomes are read
            # unchecked by a client holding none.
            with pytest.raises(TaskRejected, match="Unsigned"):
                await (await plain.enqueue(ADD, AddArgs(a=0, b=0))).result(timeout=10)
            handle = await signed.enqueue(ADD, AddArgs(a=2, b=2))
            assert await plain.handle(ADD, handle.id).result(timeout=10) == 4
            assert await handle.result(timeout=10) == 4
    kinds = [kind for kind, _ in dead_letters(await r.xrange(DEAD)).values()]
    assert kinds == ["Unsigned"]


async def test_requeue_re_signs_only_what_verifies(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    signing = Signing(KEY)
    genuine_id, forged_id, unsigned_id = new_task_id(), new_task_id(), new_task_id()
    # Dead letters as a worker leaves them: a genuine signed task that failed, a forgery, and
    # an unsigned task refused.
    genuine = Envelope(
        genuine_id, SPY.name, SPY.fingerprint, msgspec.Raw(ENCODER.encode(SpyArgs(a=5))),
        now_ms(), attempt=3, expires_at=1,
    )  # fmt: skip
    letters = {
        genuine_id: signing.sign_envelope(ENCODER.encode(genuine), "math", genuine_id.encode()),
        forged_id: FORGERIES["another key"][1](forged_id),
        unsigned_id: envelope(unsigned_id),
    }
    for task_id, raw in letters.items():
        await r.xadd(DEAD, {"id": task_id, "task": SPY.name, "reason": "x", "envelope": raw})
    assert await DeadLetters(r, "math", signing=signing).requeue() == 3
    ready = {
        field.decode(): frame
        for _, fields in await r.xrange(READY)
        for field, frame in fields.items()
    }
    opened = signing.open_envelope(ready[genuine_id], "math", genuine_id.encode())
    fresh = msgspec.msgpack.decode(opened, type=Envelope)
    assert (fresh.attempt, fresh.expires_at) == (1, 0)  # re-signed with a fresh attempt count
    assert ready[forged_id] == letters[forged_id]  # byte for byte: never laundered
    assert ready[unsigned_id][:4] != MAGIC  # an unsigned letter stays unsigned
    async with (
        running_worker(redis_url, [bind_spy()], signing=signing),
        Client.from_url(redis_url, registry="off", signing=signing) as client,
    ):
        assert await client.handle(SPY, genuine_id).result(timeout=10) == 10
        for task_id in (forged_id, unsigned_id):
            with pytest.raises(TaskRejected):
                await client.handle(SPY, task_id).result(timeout=10)


async def test_requeue_without_a_key_keeps_signed_letters_byte_for_byte(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    task_id = new_task_id()
    frame = Signing(KEY).sign_envelope(envelope(task_id), "math", task_id.encode())
    await r.xadd(DEAD, {"id": task_id, "task": SPY.name, "reason": "x", "envelope": frame})
    assert await DeadLetters(r, "math").requeue() == 1
    ((_, fields),) = await r.xrange(READY)
    assert fields == {task_id.encode(): frame}


async def test_the_eager_client_signs_and_checks_like_the_real_ones() -> None:
    async with EagerClient([bind_add()], signing=Signing(KEY)) as eager:
        assert await (await eager.enqueue(ADD, AddArgs(a=2, b=2))).result() == 4


def test_signing_options_are_checked() -> None:
    with pytest.raises(TypeError, match="Signing"):
        Client.from_url("redis://localhost:1", signing=KEY)  # type: ignore[arg-type]
    env = {"TASKGEN_SIGNING_KEY": "a" * 32, "TASKGEN_SIGNING_OLD_KEYS": f"{'b' * 32}, {'c' * 32}"}
    loaded = Signing.from_env(env)
    assert loaded.open(Signing("c" * 32).sign(b"x")) == b"x" and not loaded.allow_unsigned
    assert Signing.from_env({**env, "TASKGEN_SIGNING_ALLOW_UNSIGNED": "1"}).allow_unsigned
    with pytest.raises(ValueError, match="TASKGEN_SIGNING_KEY is not set"):
        Signing.from_env({})
    with pytest.raises(ValueError, match="signing key file /nonexistent: cannot be read"):
        Signing.from_files("/nonexistent")


def test_the_blocking_client_passes_signing_through(redis_url: str) -> None:
    env = dict(os.environ, TASKGEN_SIGNING_KEY=KEY.decode())
    with (
        worker_process(redis_url, target="tests.fixtures.rt_worker:worker", env=env),
        SyncClient.from_url(redis_url, registry="off", signing=Signing(KEY)) as client,
    ):
        assert client.client.signing is not None
        assert client.enqueue(SLEEP, SleepArgs(seconds=0)).result(timeout=20).endswith(" 1 1")


async def test_the_dashboard_signs_the_outcome_of_a_task_it_aborts(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url, registry="off", signing=Signing(KEY)) as client:
        signed = await client.enqueue(ADD, AddArgs(a=1, b=1))
        unsigned = await client.enqueue(ADD, AddArgs(a=1, b=1))
        board = Board(r, signing=Signing(KEY))
        assert await board.abort(signed.id, "math", ADD.name)
        assert await Board(r).abort(unsigned.id, "math", ADD.name)  # no key: an unsigned outcome
        with pytest.raises(TaskAborted):
            await signed.result(timeout=10)
        with pytest.raises(SignatureRefused, match="unsigned"):
            await unsigned.result(timeout=10)
        await board.close()
