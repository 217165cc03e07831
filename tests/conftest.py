"""Shared fixtures: a real Redis server, and clean state for each test that uses it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from tests.redis_server import running_server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """The URL of a real server: ``TASKGEN_TEST_REDIS_URL``, or one started for this run."""
    existing = os.environ.get("TASKGEN_TEST_REDIS_URL")
    if existing:
        yield existing
        return
    with running_server() as url:
        yield url


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The server's URL, its database emptied before the test."""
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    yield redis_server
