"""Each contract mistake stops the build with file:line, the task, and what to change.

The messages are snapshots (tests/snapshots/contract_errors/<case>.txt); set
TASKGEN_UPDATE_SNAPSHOTS=1 to rewrite them after an intended change.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from taskgen_codegen.contract import ContractError, load_contracts

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / "contract_errors"

HEADER = """\
import enum
import typing

import msgspec

from taskgen import task
"""

CASES: dict[str, str] = {
    "unsupported_type": """
        class Handle:
            pass


        @task
        def close(handle: Handle) -> None: ...
    """,
    "any_type": """
        @task
        def store(value: typing.Any) -> None: ...
    """,
    "missing_annotation": """
        @task
        def greet(name, greeting: str = "hi") -> str: ...
    """,
    "missing_return": """
        @task
        def greet(name: str): ...
    """,
    "body_not_ellipsis": """
        @task
        def add(a: int, b: int) -> int:
            return a + b
    """,
    "varargs": """
        @task
        def total(*amounts: int) -> int: ...
    """,
    "bare_list": """
        @task
        def total(amounts: list) -> int: ...
    """,
    "mutable_default": """
        @task
        def tag(names: list[str] = []) -> None: ...
    """,
    "nested_field": """
        class Inner(msgspec.Struct):
            when: object


        class Outer(msgspec.Struct):
            inner: Inner


        @task
        def nest(outer: Outer) -> None: ...
    """,
    "duplicate_wire_name": """
        @task(name="jobs.run")
        def first() -> None: ...


        @task(name="jobs.run")
        def second() -> None: ...
    """,
    "bad_queue_name": """
        @task(queue="high priority")
        def run() -> None: ...
    """,
    "reserved_parameter": """
        @task
        def run(ctx: str) -> None: ...
    """,
    "untagged_struct_union": """
        class Cat(msgspec.Struct):
            name: str


        class Dog(msgspec.Struct):
            name: str


        @task
        def adopt(pet: Cat | Dog) -> None: ...
    """,
    "import_error": """
        from contracts.missing import Thing
    """,
    "progress_unsupported_type": """
        class Meter:
            pass


        @task(progress=Meter)
        def encode(path: str) -> str: ...
    """,
    "progress_any_type": """
        @task(progress=typing.Any)
        def encode(path: str) -> str: ...
    """,
    "progress_string": """
        @task(progress="Step")
        def encode(path: str) -> str: ...
    """,
    "progress_nested_field": """
        class Step(msgspec.Struct):
            when: object


        @task(progress=Step)
        def encode(path: str) -> str: ...
    """,
    "progress_untagged_union": """
        class Frames(msgspec.Struct):
            count: int


        class Bytes(msgspec.Struct):
            count: int


        @task(progress=Frames | Bytes)
        def encode(path: str) -> str: ...
    """,
}


def write_contract(root: Path, source: str) -> Path:
    folder = root / "contracts"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "jobs.py").write_text(HEADER + textwrap.dedent(source))
    return folder


@pytest.mark.parametrize("case", sorted(CASES))
def test_contract_mistake_is_reported_where_it_is(case: str, tmp_path: Path) -> None:
    folder = write_contract(tmp_path, CASES[case])
    with pytest.raises(ContractError) as error:
        load_contracts(folder)
    message = str(error.value)
    assert "contracts/jobs.py:" in message
    assert "hint:" in message
    snapshot = SNAPSHOTS / f"{case}.txt"
    if os.environ.get("TASKGEN_UPDATE_SNAPSHOTS") or not snapshot.exists():
        snapshot.write_text(message + "\n", encoding="utf-8")
    assert message + "\n" == snapshot.read_text(encoding="utf-8")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    folder = write_contract(tmp_path, CASES["missing_annotation"] + CASES["varargs"])
    with pytest.raises(ContractError) as error:
        load_contracts(folder)
    assert len(error.value.problems) == 2


def test_a_missing_folder_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="does not exist") as error:
        load_contracts(tmp_path / "nope")
    assert "taskgen build contracts/" in str(error.value)
