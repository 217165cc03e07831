"""The eviction-policy check, over every policy a server offers."""

from __future__ import annotations

import pytest
import redis.asyncio

from taskgen.runtime.faults import EvictingPolicy, check_eviction_policy, redact

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
