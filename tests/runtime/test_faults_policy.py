"""In-process checks of the fault handling: the eviction policy, redacted URLs, and the
control listener on a black-holed server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import redis.asyncio

from taskgen.runtime.completion import Completer
from taskgen.runtime.control import ControlListener
from taskgen.runtime.execution import Executor
from taskgen.runtime.faults import EvictingPolicy, check_eviction_policy, redact
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.scheduler import Scheduler
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.slots import Slots
from taskgen.runtime.stopping import stop_tasks
from tests.redis_server import faulty_server

EVICTING = [
    "volatile-lru",
    "allkeys-lru",
    "volatile-lfu",
    "allkeys-lfu",
    "volatile-random",
    "allkeys-random",
    "volatile-ttl",
]


async def test_every_evicting_policy_is_refused(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await check_eviction_policy(r, redis_url) == "noeviction"
        for policy in EVICTING:
            await r.config_set("maxmemory-policy", policy)
            with pytest.raises(EvictingPolicy, match=f"maxmemory-policy {policy}"):
                await check_eviction_policy(r, redis_url)
    finally:
        await r.config_set("maxmemory-policy", "noeviction")
        await r.aclose()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("redis://:pw@localhost:6379/0", "redis://:***@localhost:6379/0"),
        ("redis://user:pw@localhost/2", "redis://user:***@localhost/2"),
        ("rediss://u:p%40ss@h:1/0?ssl_cert_reqs=none", "rediss://u:***@h:1/0?ssl_cert_reqs=none"),
        ("unix:///tmp/redis.sock?password=pw", "unix:///tmp/redis.sock?password=***"),
    ],
)
def test_logged_urls_hide_passwords(url: str, shown: str) -> None:
    assert redact(url) == shown


async def test_a_black_holed_control_channel_is_noticed_and_subscribed_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A frozen server never closes the subscription: the listener's ping finds it out."""
    with faulty_server() as server:
        r = redis.asyncio.Redis.from_url(server.url, socket_timeout=2)
        scripts = Scripts(r)
        keys = QueueKeys("math")
        scheduler = Scheduler(keys, scripts)
        executor = Executor({}, Completer(r, scripts, dead_letter_cap=1), Slots(1), None)  # type: ignore[arg-type]
        listener = ControlListener(r, {"math": scheduler}, executor, quiet=0.2, answer_within=0.5)
        listening = asyncio.create_task(listener.run())
        try:
            await until(lambda: scheduler.wake.is_set())  # subscribed
            scheduler.wake.clear()
            server.pause()
            await until(lambda: "control channel was lost" in caplog.text)
            server.resume()
            await until(lambda: scheduler.wake.is_set())  # subscribed again
        finally:
            await stop_tasks([listening])
            await r.aclose()


async def until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
