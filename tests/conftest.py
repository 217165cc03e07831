"""Shared fixtures: a real Redis server, and clean state for each test that uses it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from tests.redis_server import MissingServer, describe_server, running_server


def pytest_configure(config: pytest.Config) -> None:
    """Fail at once, not test by test, when the selected server is missing."""
    if not os.environ.get("TASKGEN_TEST_REDIS_URL"):
        try:
            describe_server()
        except MissingServer as exc:
            raise pytest.UsageError(str(exc)) from exc


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that use the server fixture: ``-m server`` runs them on another server."""
    for item in items:
        if "redis_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.server)


def pytest_report_header(config: pytest.Config) -> str:
    """Name the server the tests run against, with its version."""
    existing = os.environ.get("TASKGEN_TEST_REDIS_URL")
    if existing:
        client = redis.Redis.from_url(existing)
        try:
            info = client.info("server")
        finally:
            client.close()
        name = "valkey" if "valkey_version" in info else "redis"
        version = info.get("valkey_version") or info["redis_version"]
        return f"server: {name} {version} at TASKGEN_TEST_REDIS_URL"
    return f"server: {describe_server()}"


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
