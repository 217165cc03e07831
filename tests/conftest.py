"""Shared fixtures: a real Redis server, and clean state for each test that uses it."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator

import pytest
import redis
from hypothesis import settings

from tests.redis_server import MissingServer, describe_server, running_server

# No deadline per example: on a loaded CI machine a slow example is no failure (speed is the
# benchmark's to judge, not a unit test's).
settings.register_profile("taskgen", deadline=None)
settings.load_profile("taskgen")


class LeftPending(logging.Handler):
    """asyncio's reports of a task destroyed while pending, or a failed future nobody awaited:
    something a test started and never ended. Left to the collector, it is reported from a
    finalizer at whatever moment the collector runs, inside whatever code runs then."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.test = "before the first test"
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        lines = record.getMessage().splitlines()
        if lines and lines[0].endswith(("destroyed but it is pending!", "never retrieved")):
            self.reports.append(f"during {self.test}: " + " / ".join(lines[:2]))


LEFT_PENDING = LeftPending()


def pytest_configure(config: pytest.Config) -> None:
    """Watch for tasks left pending; fail at once, not test by test, when the selected server
    is missing."""
    logging.getLogger("asyncio").addHandler(LEFT_PENDING)
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


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Name the running test in what asyncio reports (the culprit ran at or before it)."""
    LEFT_PENDING.test = item.nodeid


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail a run in which any test left a task pending or a failure unretrieved."""
    gc.collect()  # what the last tests left
    if LEFT_PENDING.reports and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say what was left pending, where the run noticed it."""
    if LEFT_PENDING.reports:
        terminalreporter.section("tasks left pending (await what you start)", red=True)
        for report in LEFT_PENDING.reports:
            terminalreporter.line(report)


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
