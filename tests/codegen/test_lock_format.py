"""The lock file's format: types as trees read back structurally, version 1 still read, and a
hand-edited lock refused with its file:line.

Every type the contract model can hold goes through the lock and back unchanged (a generated
class of type expressions, and generated contracts built end to end); the lock written by the
previous taskgen reads as the same lock; every ``kind`` and every reference of a real lock,
edited into nonsense, is reported on its own line with what to do.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from taskgen_codegen.check.compat import compare
from taskgen_codegen.check.lineage import without_lineage
from taskgen_codegen.check.locate import lock_locations
from taskgen_codegen.check.lock import (
    LOCK_VERSION,
    Lock,
    LockError,
    LockField,
    LockParam,
    LockTask,
    LockType,
    decode_lock,
    encode_lock,
    lock_of,
)
from taskgen_codegen.contract import load_contracts
from taskgen_codegen.contract.model import (
    BUILTINS,
    Builtin,
    Constrained,
    Constraints,
    Container,
    LiteralType,
    Ref,
    TypeExpr,
    Union,
)
from tests.codegen.test_check_cli import Project
from tests.codegen.test_evolution import EVERY_TYPE
from tests.contract_gen import Contract, contracts, render, valid

REPO = Path(__file__).resolve().parents[2]
V1 = REPO / "tests" / "fixtures" / "lock_v1"
GOLDEN_LOCK = REPO / "tests" / "golden" / "contracts" / "taskgen.lock"
NAMES = ("Alpha", "Beta")
REMEDY = "restore it from version control, or run `taskgen build`"


# -- every type expression goes through the lock unchanged ----------------------------------

_FINITE = st.floats(allow_nan=False, allow_infinity=False)
_BOUND = st.one_of(st.integers(-(2**70), 2**70), _FINITE)
_CONSTRAINTS = st.builds(
    Constraints,
    gt=st.none() | _BOUND,
    ge=st.none() | _BOUND,
    le=st.none() | _BOUND,
    multiple_of=st.none() | _BOUND,
    pattern=st.none() | st.text(max_size=8),
    min_length=st.none() | st.integers(0, 9),
    tz=st.none() | st.booleans(),
    description=st.none() | st.text(max_size=8),
)
_LITERAL = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=6)
_LEAVES = st.one_of(
    st.sampled_from([Builtin(name) for name in BUILTINS]),
    st.sampled_from([Ref(name) for name in NAMES]),
    st.lists(_LITERAL, min_size=1, max_size=4).map(lambda v: LiteralType(tuple(v))),
)


def _compound(inner: st.SearchStrategy[TypeExpr]) -> st.SearchStrategy[TypeExpr]:
    one = st.sampled_from(["list", "set", "frozenset", "vartuple"])
    return st.one_of(
        st.builds(lambda kind, arg: Container(kind, (arg,)), one, inner),
        st.builds(lambda k, v: Container("dict", (k, v)), inner, inner),
        st.lists(inner, max_size=3).map(lambda args: Container("tuple", tuple(args))),
        st.lists(inner, min_size=2, max_size=4).map(lambda options: Union(tuple(options))),
        st.builds(Constrained, inner, _CONSTRAINTS),
    )


TYPES = st.recursive(_LEAVES, _compound, max_leaves=12)


def _lock_holding(expr: TypeExpr) -> Lock:
    """A lock whose one task takes and returns ``expr``, and whose types hold it too."""
    task = LockTask("jobs.run", "q", (LockParam("value", "positional", expr),), expr, NAMES, "f")
    alpha = LockType("Enum", members={"A": "a"})
    beta = LockType("struct", fields=(LockField("x", expr, default="None", required=False),))
    types = {"Alpha": alpha, "Beta": beta, "Gamma": LockType("newtype", base=expr)}
    return Lock("notice", LOCK_VERSION, "contracts", {"jobs.run": task}, types)


@settings(max_examples=300, deadline=None)
@given(expr=TYPES)
def test_every_type_expression_reads_back_from_the_lock_as_it_was_written(expr: TypeExpr) -> None:
    lock = _lock_holding(expr)
    text = encode_lock(lock)
    back = decode_lock(text, "taskgen.lock")
    # Byte-equal, not only equal: True == 1 and 1 == 1.0 in Python, but not on the wire.
    assert msgspec.json.encode(back) == msgspec.json.encode(lock)
    assert encode_lock(back) == text


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(contract=contracts())
def test_a_built_contract_reads_back_from_its_lock_with_the_models_types(
    contract: Contract,
) -> None:
    assume(valid(contract))
    with tempfile.TemporaryDirectory(prefix="taskgen-lock-") as temp:
        folder = Path(temp) / "contracts"
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        (folder / "jobs.py").write_text(render(contract))
        model = load_contracts(folder)
    lock = lock_of(model)
    back = decode_lock(encode_lock(lock), "taskgen.lock")
    assert back == lock
    for task in model.tasks:
        read = back.tasks[task.wire_name]
        assert [p.type for p in read.params] == [p.type for p in task.params]
        assert read.returns == task.returns
    for definition in model.definitions:
        kind = back.types[definition.name]
        fields = getattr(definition, "fields", ())
        assert [f.type for f in kind.fields] == [f.type for f in fields]
        assert kind.base == getattr(definition, "base", None)


# -- a lock of the previous format ----------------------------------------------------------


def test_a_version_1_lock_reads_as_the_same_lock() -> None:
    """The lock of every type, as the previous taskgen wrote it (types spelled as Python)."""
    text = (V1 / "every_type.lock").read_text(encoding="utf-8")
    assert '"version": 1' in text
    old = decode_lock(text, "taskgen.lock")
    now = lock_of(load_contracts(EVERY_TYPE))
    assert without_lineage(old) == now
    assert compare(old, now) == []
    # Its entries are found by the same walk over the JSON.
    table = lock_locations(old, text, "taskgen.lock")
    lines = text.splitlines()
    assert lines[table["task", "catalog.walk"].line - 1] == '    "catalog.walk": {'
    field = table["field", "Item", "unit_price"].line
    assert lines[field - 1].strip() == "{"
    assert lines[field].strip() == '"name": "unit_price",'


def test_check_against_a_version_1_lock_keeps_its_baseline(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.lock.write_text((V1 / "jobs.lock").read_text(encoding="utf-8"))
    assert (
        project.taskgen("check").out == "taskgen check: no changes against contracts/taskgen.lock\n"
    )
    project.edit("    port: int = 80\n", '    port: str = "80"\n')
    run = project.taskgen("check")
    assert run.code == 1
    assert f"contracts/jobs.py:{project.line('port: str')}: breaking WIRE_TYPE_CHANGED" in run.out
    # A build rewrites it in the current format, and the check then has nothing to report.
    project.edit('    port: str = "80"\n', "    port: int = 80\n")
    assert project.taskgen("build").code == 0
    assert f'"version": {LOCK_VERSION}' in project.lock.read_text()
    assert project.taskgen("check").code == 0


def test_a_lock_of_an_unknown_version_is_refused_with_what_to_do() -> None:
    text = GOLDEN_LOCK.read_text().replace(f'"version": {LOCK_VERSION}', '"version": 9', 1)
    with pytest.raises(LockError) as caught:
        decode_lock(text, "contracts/taskgen.lock")
    assert str(caught.value) == (
        "contracts/taskgen.lock: lock file version 9, this taskgen reads 1, 2; use the taskgen "
        "version that wrote it, or rebuild to rewrite it"
    )


# -- a hand-edited lock ---------------------------------------------------------------------


def _refused(text: str) -> str:
    with pytest.raises(LockError) as caught:
        decode_lock(text, "contracts/taskgen.lock")
    message = str(caught.value)
    assert "\n" not in message
    assert REMEDY in message
    return message


def _edits(text: str, pattern: str, replacement: str) -> list[tuple[str, int]]:
    """``text`` with one match of ``pattern`` replaced, for each match, and the match's line."""
    return [
        (text[: m.start(1)] + replacement + text[m.end(1) :], text.count("\n", 0, m.start()) + 1)
        for m in re.finditer(pattern, text)
    ]


@pytest.mark.parametrize("lock", ["contracts", "every_type"])
def test_every_kind_edited_into_nonsense_is_refused_at_its_line(lock: str) -> None:
    """Each task parameter's, named type's and type node's ``kind``."""
    text = (REPO / "tests" / "golden" / lock / "taskgen.lock").read_text(encoding="utf-8")
    edits = _edits(text, r'"kind": "([^"]*)"', "nonsense")
    assert len(edits) > 50
    for edited, line in edits:
        assert _refused(edited).startswith(f"contracts/taskgen.lock:{line}: "), line


def test_every_reference_to_a_missing_type_is_refused_at_its_line() -> None:
    text = (REPO / "tests" / "golden" / "every_type" / "taskgen.lock").read_text()
    edits = _edits(text, r'\{"kind": "ref", "name": "([^"]*)"\}', "Nowhere")
    assert len(edits) > 50
    for edited, line in edits:
        message = _refused(edited)
        assert message.startswith(f"contracts/taskgen.lock:{line}: 'Nowhere' is not a type"), line


@pytest.mark.parametrize(
    ("before", "after", "says"),
    [
        ('"type": {"kind": "ref", "name": "Invoice"}', '"type": "Invoice"', "must be an object"),
        ('{"kind": "str"}, "values": {"kind": "str"}}', '{"kind": "str"}}', 'has "keys", "values"'),
        ('{"kind": "list", "of": {"kind": "str"}}', '{"kind": "list", "items": []}', 'has "of"'),
        (
            '"type": {"kind": "tuple", "of": {"kind": "ref", "name": "Recipient"}}',
            '"type": {"kind": "tuple"}',
            'either "of"',
        ),
        ('"type": {"kind": "str"}', '"type": {"kind": "str", "meta": {"gte": 0}}', "'gte' is not"),
        ('"type": {"kind": "str"}', '"type": {"kind": "str", "meta": {"ge": "0"}}', "Meta"),
        ('"type": {"kind": "str"}', '"type": {"kind": "literal", "values": [{}]}', "literal"),
        ('"required": false', '"required": "no"', "Expected `bool`, got `str`"),
        ('"fingerprint": "7e1a5ce0e83ffa53"', '"fingerprint": 7', "Expected `str`, got `int`"),
    ],
    ids=["bare", "dict", "list", "tuple", "meta-key", "meta-value", "literal", "field", "task"],
)
def test_a_malformed_node_or_entry_names_its_line_and_path(
    before: str, after: str, says: str
) -> None:
    text = GOLDEN_LOCK.read_text(encoding="utf-8")
    assert before in text
    at = text.index(before)
    line = text.count("\n", 0, at + len(before) - len(before.lstrip())) + 1
    message = _refused(text.replace(before, after, 1))
    assert message.startswith(f"contracts/taskgen.lock:{line}: "), message
    assert says in message


def test_broken_json_names_its_line() -> None:
    text = GOLDEN_LOCK.read_text(encoding="utf-8")
    cut = text.index('"types": {\n    "Address"')
    message = _refused(text[:cut] + text[cut + 1 :])
    assert message.startswith(f"contracts/taskgen.lock:{text.count(chr(10), 0, cut) + 1}: ")
    assert "not a taskgen lock file" in message


def test_check_refuses_a_corrupted_lock_with_its_line(tmp_path: Path) -> None:
    project = Project(tmp_path).built()
    text = project.lock.read_text()
    line = next(n for n, s in enumerate(text.splitlines(), 1) if '"name": "kind"' in s)
    project.lock.write_text(text.replace('"name": "Kind"}', '"name": "Kinds"}', 1))
    run = project.taskgen("check")
    assert run.code == 2
    assert run.err.splitlines()[1].startswith(
        f"contracts/taskgen.lock:{line}: 'Kinds' is not a type of the lock's \"types\" at "
        '.tasks["jobs.ping"].params[1].type.name; restore it from version control'
    )
