"""Signing across processes: real ``taskgen worker`` processes configured by key files or the
environment, and the command line's refusals of signing options it cannot use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import redis.asyncio

from taskgen.runtime import Client, SignatureRefused, Signing, TaskRejected
from taskgen.runtime.wire import ENCODER, Envelope, new_task_id, now_ms
from tests.support import worker_process
from tests.tasks_fixture import SLEEP, SleepArgs

RT = "tests.fixtures.rt_worker:worker"
READY = "taskgen:{math}:ready:1"
DEAD = "taskgen:{math}:dead"
KEY, OLD = "k" * 64, "o" * 64


def key_file(tmp_path: Path, name: str, key: str) -> str:
    path = tmp_path / name
    path.write_text(key + "\n")  # as `secrets.token_hex(32) > file` leaves it
    return str(path)


async def test_a_worker_process_with_a_key_file_runs_signed_tasks_and_refuses_the_rest(
    redis_url: str, tmp_path: Path
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    forged = new_task_id()
    args = msgspec.Raw(ENCODER.encode(SleepArgs(seconds=0)))
    unsigned = Envelope(forged, SLEEP.name, SLEEP.fingerprint, args, now_ms())
    await r.xadd(READY, {forged: ENCODER.encode(unsigned)})
    options = ["--signing-key-file", key_file(tmp_path, "key", KEY)]
    options += ["--old-signing-key-file", key_file(tmp_path, "old", OLD)]
    with worker_process(redis_url, *options, target=RT):
        async with (
            Client.from_url(redis_url, registry="off", signing=Signing(KEY)) as current,
            Client.from_url(redis_url, registry="off", signing=Signing(OLD, old_keys=[KEY])) as old,
            Client.from_url(redis_url, registry="off") as plain,
        ):
            assert (await (await current.enqueue(SLEEP, SleepArgs(seconds=0))).result(20)).endswith(
                " 1 1"
            )
            assert (await (await old.enqueue(SLEEP, SleepArgs(seconds=0))).result(20)).endswith(
                " 1 1"
            )
            with pytest.raises(TaskRejected, match="Unsigned"):
                await plain.handle(SLEEP, forged).result(timeout=20)
            with pytest.raises(TaskRejected, match="Unsigned"):
                await (await plain.enqueue(SLEEP, SleepArgs(seconds=0))).result(timeout=20)
            # The worker signs with KEY: a client that does not know KEY refuses its outcomes.
            async with Client.from_url(redis_url, registry="off", signing=Signing(OLD)) as stale:
                handle = await current.enqueue(SLEEP, SleepArgs(seconds=0))
                await handle.result(timeout=20)
                with pytest.raises(SignatureRefused, match="unknown key"):
                    await stale.handle(SLEEP, handle.id).result(timeout=20)
    assert await r.xlen(DEAD) == 2
    assert await r.hlen("rt:runs") == 3  # the handler ran the three signed tasks, nothing else


async def test_a_worker_process_takes_its_key_from_the_environment(redis_url: str) -> None:
    env = dict(os.environ, TASKGEN_SIGNING_KEY=KEY, TASKGEN_SIGNING_ALLOW_UNSIGNED="1")
    with worker_process(redis_url, target=RT, env=env):
        async with (
            Client.from_url(redis_url, registry="off", signing=Signing(KEY)) as signed,
            Client.from_url(redis_url, registry="off") as plain,
        ):
            handles = [await signed.enqueue(SLEEP, SleepArgs(seconds=0)) for _ in range(4)]
            results = [await h.result(timeout=20) for h in handles]
            assert all(result.endswith(" 1 1") for result in results)
            # --allow-unsigned from the environment: an unsigned task runs during a rollout.
            assert (await (await plain.enqueue(SLEEP, SleepArgs(seconds=0))).result(20)).endswith(
                " 1 1"
            )
            forged = Signing("f" * 64).sign_envelope(b"\x90", "math", b"x")
            await redis.asyncio.Redis.from_url(redis_url).xadd(READY, {"x": forged})
            with pytest.raises(TaskRejected, match="unknown key"):
                await plain.handle(SLEEP, "x").result(timeout=20)


def taskgen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskgen", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--old-signing-key-file", "x"], "need a signing key"),
        (["--allow-unsigned"], "need a signing key"),
        (["--signing-key-file", "/nonexistent/key"], "signing key file /nonexistent/key"),
    ],
)
def test_the_worker_refuses_signing_options_it_cannot_use(
    redis_url: str, args: list[str], message: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKGEN_SIGNING")}
    done = taskgen("worker", RT, "--redis-url", redis_url, *args, env=env)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_short_key_file_is_refused(redis_url: str, tmp_path: Path) -> None:
    done = taskgen(
        "worker", RT, "--redis-url", redis_url, "--signing-key-file", key_file(tmp_path, "k", "x")
    )
    assert done.returncode == 2, done.stderr
    assert "holds 1 bytes; give at least 16 bytes" in done.stderr and "/k" in done.stderr
