"""Flow control in the contract: ``taskgen build`` resolves each key path against the task's
parameter types and fails at the task's file:line when one does not make a key; the generated
client computes the keys from the typed arguments (no string evaluation at run time)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from taskgen.runtime.packing import unpack
from taskgen_codegen.check import rules as R
from taskgen_codegen.check.compat import compare
from taskgen_codegen.check.lock import lock_of
from taskgen_codegen.contract import ContractError, load_contracts
from tests.support import REPO, build_contracts, use_build

FLOW_CONTRACTS = REPO / "tests" / "fixtures" / "flow_contracts"

HEADER = """\
import dataclasses
import typing

import msgspec

from taskgen import Fair, Limit, Rate, Unique, task


class Customer(msgspec.Struct):
    id: int
    name: str
    score: float
    tags: list[str]
    nickname: str | None


@dataclasses.dataclass
class Order:
    customer: Customer
    total: float

"""

#: Every kind of key that is not one, with the words the error must hold.
BAD_KEYS: dict[str, tuple[str, str]] = {
    "missing_parameter": ('concurrency=Limit(key="client.id")', "has no parameter 'client'"),
    "missing_field": ('concurrency=Limit(key="order.customer.ident")', "has no field 'ident'"),
    "float_field": ('concurrency=Limit(key="order.total")', "is float"),
    "float_nested": ('rate=Rate("1/s", key="order.customer.score")', "is float"),
    "list_field": ('unique=Unique(key="order.customer.tags")', "is list[str]"),
    "optional_field": ('concurrency=Limit(key="order.customer.nickname")', "is str | None"),
    "struct_itself": ('concurrency=Limit(key="order.customer")', "is Customer"),
    "through_a_scalar": ('concurrency=Limit(key="note.length")', "which has no fields"),
    "through_a_list": ('concurrency=Limit(key="order.customer.tags.x")', "has no fields"),
    "bool_parameter": ('concurrency=Limit(key="urgent")', "is bool"),
    "bytes_parameter": ('unique=Unique(key="blob")', "is bytes"),
    "not_a_path": ('concurrency=Limit(key="order..total")', "is not a dotted path"),
    "empty_path": ('concurrency=Limit(key="")', "is not a dotted path"),
    "fair_float": ('fair=Fair(key="order.total")', "fair key 'order.total' is float"),
    "fair_with_concurrency": (
        'fair=Fair(key="note"), concurrency=Limit(key="note")',
        "fair= and concurrency= cannot be combined",
    ),
}

#: Option values that fail when the contract module is imported.
BAD_VALUES: dict[str, tuple[str, str]] = {
    "rate_without_period": ('rate=Rate("100", key="note")', "write <count>/<period>"),
    "rate_unknown_unit": ('rate=Rate("100/w", key="note")', "write <count>/<period>"),
    "rate_zero": ('rate=Rate("0/s", key="note")', "must be > 0"),
    "rate_words": ('rate=Rate("fast", key="note")', "write <count>/<period>"),
    "limit_zero": ('concurrency=Limit(key="note", max=0)', "max counts running tasks"),
    "unique_zero": ('unique=Unique(key="note", for_=0)', "for_"),
    "fair_window_zero": ('fair=Fair(key="note", window=0)', "window counts tasks"),
}


def write_contract(tmp_path: Path, option: str) -> tuple[Path, int]:
    """A one-task contract with ``option``; the folder and the decorator's line."""
    folder = tmp_path / "flowbad"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    source = HEADER + textwrap.dedent(f"""
        @task({option})
        def ship(order: Order, note: str, urgent: bool, blob: bytes) -> None: ...
    """)
    (folder / "jobs.py").write_text(source)
    line = source.splitlines().index(f"@task({option})") + 1
    return folder, line


@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_a_key_that_makes_no_key_fails_the_build_at_the_task(tmp_path: Path, case: str) -> None:
    option, words = BAD_KEYS[case]
    folder, line = write_contract(tmp_path, option)
    with pytest.raises(ContractError) as raised:
        load_contracts(folder)
    message = str(raised.value)
    # The task's place is its def line, right below the decorator.
    assert f"jobs.py:{line + 1}: error: task jobs.ship: " in message, message
    assert words in message, message


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_a_bad_option_value_fails_the_build_at_its_line(tmp_path: Path, case: str) -> None:
    option, words = BAD_VALUES[case]
    folder, line = write_contract(tmp_path, option)
    with pytest.raises(ContractError) as raised:
        load_contracts(folder)
    message = str(raised.value)
    assert f"jobs.py:{line}: error: cannot import flowbad.jobs" in message, message
    assert words in message, message


def test_keys_resolve_over_params_structs_newtypes_enums_typeddicts_and_literals() -> None:
    model = load_contracts(FLOW_CONTRACTS)
    keys = {t.name: {k.option: k.expression for k in t.flow_keys} for t in model.tasks}
    assert keys == {
        "charge": {
            "concurrency": "str(args.invoice.customer.id)",
            "rate": "str(args.invoice.customer.region.value)",
            "unique": "args.invoice.number",
        },
        "remind": {"unique": "args.to['email']"},
        "notify": {"concurrency": "str(args.kind)", "rate": "str(args.attempt)"},
        "report": {"fair": "str(args.invoice.customer.id)"},
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flowbuild")
    built = build_contracts(root, FLOW_CONTRACTS, package="flow_tasks", worker="flow_worker")
    use_build(built)
    return root


def test_the_generated_client_computes_each_key_from_the_typed_arguments(built: Path) -> None:
    tasks = importlib.import_module("flow_tasks.tasks")
    models = importlib.import_module("flow_tasks.models")
    invoice = models.Invoice(
        number="F-7", customer=models.Customer(id=models.CustomerId(42), region=models.Region.EU)
    )
    args = tasks.BillingChargeArgs(invoice=invoice, attempt_id=uuid.uuid4())
    spec = unpack(tasks.BILLING_CHARGE.flow.spec(args))
    assert spec == [
        b"billing.charge:42",
        b"2",
        b"billing.charge:eu",
        b"100",
        b"1000",
        b"billing.charge:F-7",
        b"600000",
        b"",
        b"",
        b"0",
    ]
    notify = tasks.BILLING_NOTIFY.flow
    assert notify.rate[1:] == (10, 30.0) and notify.unique is None
    assert tasks.BILLING_REMIND.flow.concurrency is None
    report = tasks.BILLING_REPORT.flow.spec(tasks.BillingReportArgs(invoice=invoice))
    assert unpack(report)[7:] == [b"billing.report", b"42", b"4"]


def test_the_generated_flow_code_passes_mypy_strict(built: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "", "--strict", "-p", "flow_tasks"],
        cwd=built,
        env={**os.environ, "MYPYPATH": str(built / "flow_tasks")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


#: One task's flow options before and after a change; None: the change is not reported.
FLOW_CHANGES: dict[str, tuple[str, str, str | None]] = {
    "concurrency_key": (
        'concurrency=Limit(key="note")',
        'concurrency=Limit(key="order.customer.id")',
        "from concurrency note max=1 to concurrency order.customer.id max=1",
    ),
    "concurrency_max": (
        'concurrency=Limit(key="note", max=1)',
        'concurrency=Limit(key="note", max=3)',
        "max=3",
    ),
    "rate_limit": ('rate=Rate("10/s", key="note")', 'rate=Rate("10/m", key="note")', "10/m"),
    "unique_added": ("timeout=5", 'timeout=5, unique=Unique(key="note")', "from none"),
    "unique_for": (
        'unique=Unique(key="note")',
        'unique=Unique(key="note", for_=60)',
        "for=60",
    ),
    "fair_removed": ('timeout=5, fair=Fair(key="note")', "timeout=5", "to none"),
    "fair_window": ('fair=Fair(key="note")', 'fair=Fair(key="note", window=4)', "window=4"),
    "unchanged": ('rate=Rate("10/s", key="note")', 'rate=Rate("10 / s", key="note")', None),
}


@pytest.mark.parametrize("case", sorted(FLOW_CHANGES))
def test_taskgen_check_reports_each_flow_control_change_at_the_task(
    tmp_path: Path, case: str
) -> None:
    before, after, words = FLOW_CHANGES[case]
    old_folder, _ = write_contract(tmp_path / "old", before)
    new_folder, _ = write_contract(tmp_path / "new", after)
    old, new = lock_of(load_contracts(old_folder)), lock_of(load_contracts(new_folder))
    found = [(f.rule, f.anchor, f.reason) for f in compare(old, new)]
    if words is None:
        assert found == []
        return
    ((rule, anchor, reason),) = found
    assert rule is R.WIRE_FLOW_CONTROL_CHANGED and anchor == ("task", "jobs.ship")
    assert words in reason and R.WIRE_FLOW_CONTROL_CHANGED.severity == "warning", reason
