"""Fixtures of the runtime tests on a Redis Cluster: one cluster per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_cluster import RedisClusterNodes, redis_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterNodes]:
    """Three primaries for the module's tests that do not reshard or kill them."""
    with redis_cluster() as running:
        yield running


@pytest.fixture
def cluster_url(cluster: RedisClusterNodes) -> str:
    """The cluster's URL, every primary emptied before the test."""
    cluster.flush()
    return cluster.url
