"""Names of the TypeScript package: clashes are refused before anything is written, and the npm
package's name is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskgen_codegen.contract import ContractError
from taskgen_codegen.generate import BuildConfig, ConfigError, build, load_config
from taskgen_codegen.typescript.package import npm_name

CONTRACT = """
import msgspec
from taskgen import task


class {name}(msgspec.Struct):
    x: int


@task
def ping(value: {name}) -> None: ...
"""


def _contract(root: Path, name: str) -> None:
    folder = root / "contracts"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "jobs.py").write_text(CONTRACT.format(name=name))


@pytest.mark.parametrize("name", ["Map", "Date", "Int", "Promise", "JobsPingResult"])
def test_a_type_named_like_something_the_package_declares_is_refused(
    tmp_path: Path, name: str
) -> None:
    _contract(tmp_path, name)
    config = BuildConfig(
        client_package="jobs_client", worker_out=None, ts_out="ts", root=str(tmp_path)
    )
    with pytest.raises(ContractError) as caught:
        build(config)
    assert f"declare {name} for" in str(caught.value)
    assert not (tmp_path / "ts").exists()


def test_the_same_type_without_a_typescript_client_builds(tmp_path: Path) -> None:
    _contract(tmp_path, "Map")
    build(BuildConfig(client_package="jobs_client", worker_out=None, root=str(tmp_path)))


def test_npm_names(tmp_path: Path) -> None:
    assert npm_name(BuildConfig(client_package="Shop_Tasks")) == "shop-tasks"
    assert npm_name(BuildConfig(ts_package="@acme/shop")) == "@acme/shop"
    with pytest.raises(ConfigError, match="ts-package = 'Shop Tasks' is not an npm package name"):
        load_config(tmp_path, ts_package="Shop Tasks")


FLOW_CONTRACT = """
import msgspec
from taskgen import Limit, task


class Order(msgspec.Struct):
    customer: str


@task(concurrency=Limit(key="order.customer", max=1))
def ship(order: Order) -> None: ...
"""


def test_a_flow_controlled_task_is_refused_rather_than_let_through_the_gate(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "jobs.py").write_text(FLOW_CONTRACT)
    config = BuildConfig(
        client_package="jobs_client", worker_out=None, ts_out="ts", root=str(tmp_path)
    )
    with pytest.raises(ContractError) as caught:
        build(config)
    assert "jobs.py:11" in str(caught.value)
    assert "task jobs.ship: declares concurrency" in str(caught.value)
    assert not (tmp_path / "ts").exists()
    build(BuildConfig(client_package="jobs_client", worker_out=None, root=str(tmp_path)))
