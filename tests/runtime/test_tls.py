"""``rediss://`` with a CA, a client certificate and verification on, end to end: the asyncio
and blocking clients, an in-process worker, and the ``taskgen worker`` / ``taskgen dead``
commands, all through a TLS-terminating proxy that requires a client certificate. A wrong CA
or a missing client certificate fails fast, in one line, instead of hanging."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskgen.runtime import Client, SyncClient
from taskgen.runtime.tls import TlsRefused
from taskgen.runtime.worker import Worker
from tests.support import REPO, worker_process
from tests.tasks_fixture import ADD, AddArgs, bind_add, running_worker
from tests.tls_proxy import TlsEndpoint, tls_proxy

ENDS = "tests.fixtures.ends_worker:worker"


@pytest.fixture
def tls(redis_url: str, tmp_path: Path) -> Iterator[TlsEndpoint]:
    with tls_proxy(redis_url, tmp_path) as endpoint:
        yield endpoint


def taskgen(*args: str, url: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run the ``taskgen`` command with ``url`` as its Redis."""
    return subprocess.run(
        [sys.executable, "-m", "taskgen", *args],
        cwd=REPO,
        env={**os.environ, "TASKGEN_REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wrong_urls(tls: TlsEndpoint) -> dict[str, str]:
    """URLs that must be refused: a CA that did not sign the server's certificate, and no
    client certificate for a server that requires one."""
    return {
        "wrong CA": tls.url(
            ssl_ca_certs=str(tls.wrong_ca),
            ssl_certfile=str(tls.client_cert),
            ssl_keyfile=str(tls.client_key),
        ),
        "no client certificate": tls.url(ssl_ca_certs=str(tls.ca)),
    }


async def test_enqueue_and_result_over_tls_with_verification(tls: TlsEndpoint) -> None:
    url = tls.verified_url()
    async with running_worker(url, [bind_add()]), Client.from_url(url) as client:
        handle = await client.enqueue(ADD, AddArgs(a=2, b=3))
        assert await handle.result(timeout=15) == 5

        def blocking() -> int:
            with SyncClient.from_url(url) as sync:
                return sync.enqueue(ADD, AddArgs(a=4, b=5)).result(timeout=15)

        assert await asyncio.to_thread(blocking) == 9


@pytest.mark.parametrize("case", ["wrong CA", "no client certificate"])
async def test_a_client_refused_by_tls_fails_fast_in_one_line(tls: TlsEndpoint, case: str) -> None:
    started = time.monotonic()
    async with Client.from_url(wrong_urls(tls)[case]) as client:
        with pytest.raises(Exception) as failed:  # redis-py's ConnectionError
            await client.enqueue(ADD, AddArgs(a=1, b=1))
    assert time.monotonic() - started < 10
    message = str(failed.value)
    assert "\n" not in message
    if case == "wrong CA":
        assert "certificate verify failed" in message


async def test_a_worker_with_a_wrong_ca_refuses_to_start(tls: TlsEndpoint) -> None:
    worker = Worker([bind_add()], redis_url=wrong_urls(tls)["wrong CA"])
    with pytest.raises(TlsRefused) as refused:
        await asyncio.wait_for(worker.run(), timeout=15)
    message = str(refused.value)
    assert "\n" not in message
    assert f"rediss://127.0.0.1:{tls.port}/0 failed" in message
    assert "certificate did not verify" in message and "ssl_ca_certs" in message
    assert str(tls.wrong_ca) not in message  # the query (which may hold secrets) is left out


async def test_the_worker_command_serves_over_tls(tls: TlsEndpoint) -> None:
    url = tls.verified_url()
    with worker_process(url, target=ENDS) as worker:
        async with Client.from_url(url) as client:
            handle = await client.enqueue(ADD, AddArgs(a=20, b=22))
            assert await handle.result(timeout=30) == 42
        assert worker.poll() is None


def test_the_worker_command_with_a_wrong_ca_exits_with_one_line(tls: TlsEndpoint) -> None:
    ran = taskgen("worker", ENDS, url=wrong_urls(tls)["wrong CA"])
    assert ran.returncode == 2, ran.stdout + ran.stderr
    refusal = [line for line in ran.stderr.splitlines() if "taskgen worker:" in line]
    assert len(refusal) == 1, ran.stderr
    assert "certificate did not verify" in refusal[0] and "ssl_ca_certs" in refusal[0]


def test_the_dead_command_over_tls(tls: TlsEndpoint) -> None:
    listed = taskgen("dead", "list", "math", url=tls.verified_url())
    assert listed.returncode == 0, listed.stderr
    assert "0 dead letter(s) in queue math" in listed.stdout
    refused = taskgen("dead", "list", "math", url=wrong_urls(tls)["wrong CA"])
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "certificate did not verify" in refused.stderr
