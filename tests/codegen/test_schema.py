"""``taskgen schema``: the JSON Schemas describe exactly the payloads on the wire.

For every task of the every-type fixture, hypothesis draws argument and result values from the
contract's own types; each is encoded as the runtime encodes it (msgpack, big ints as
extension type 1), read back as JSON by the mapping docs/wire.md states (bin as base64, a
timestamp as RFC 3339, map keys as text), and must validate against the task's schema. Payloads
msgspec refuses (a broken constraint, a missing field, a wrong tag) must fail validation too.
"""

from __future__ import annotations

import base64
import datetime
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, assume, given, settings
from typer.testing import CliRunner

from taskgen.cli import with_plugins
from taskgen.runtime import bigint
from taskgen_codegen.contract import load_contracts
from taskgen_codegen.schema.jsonschema import file_stem
from taskgen_codegen.schema.live import LiveTask, live_tasks
from tests.codegen.test_roundtrip import Messages

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "every_type"
TASKS = live_tasks(load_contracts(FIXTURE), FIXTURE)
app = with_plugins()


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("schema")
    shutil.copytree(FIXTURE, root / "every_type")
    result = CliRunner().invoke(
        app, ["schema", "every_type", "--out", "out", "--root", str(root)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return root / "out"


def as_json(payload: bytes) -> Any:
    """A msgpack payload read as the JSON the schemas describe (docs/wire.md)."""

    def ext(code: int, data: memoryview) -> Any:
        assert code == bigint.BIG_INT, f"unexpected extension type {code}"
        return bigint.from_ext(data)

    return _mapped(msgspec.msgpack.decode(payload, ext_hook=ext))


def _mapped(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, list):
        return [_mapped(item) for item in value]
    if isinstance(value, dict):
        return {_key(key): _mapped(item) for key, item in value.items()}
    return value


def _key(key: Any) -> str:
    if isinstance(key, bool | type(None)):
        return json.dumps(key)
    return key if isinstance(key, str) else str(key)


def validator(schemas: Path, wire_name: str, part: str) -> jsonschema.Draft202012Validator:
    document = json.loads((schemas / f"{file_stem(wire_name)}.{part}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


def _values(tp: Any) -> Any:
    return Messages(loose=False).of(mi.type_info(tp))


@pytest.mark.parametrize("wire_name", sorted(TASKS))
def test_wire_payloads_validate_against_their_schemas(schemas: Path, wire_name: str) -> None:
    task: LiveTask = TASKS[wire_name]
    args = validator(schemas, wire_name, "args")
    result = validator(schemas, wire_name, "result")

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_values(task.args), _values(task.result))
    def check(args_message: Any, result_message: Any) -> None:
        try:
            value = msgspec.json.decode(msgspec.json.encode(args_message), type=task.args)
            outcome = msgspec.json.decode(msgspec.json.encode(result_message), type=task.result)
        except msgspec.ValidationError:
            assume(False)
        args.validate(as_json(bigint.encode(value)))
        result.validate(as_json(bigint.encode(outcome)))

    check()


@pytest.mark.parametrize(
    ("wire_name", "change"),
    [
        ("containers.constrain", {"small": 3}),  # multiple_of=2
        ("containers.constrain", {"small": 12}),  # le=10
        ("containers.constrain", {"code": "12a"}),  # pattern
        ("containers.constrain", {"few": []}),  # min_length=1
        ("containers.constrain", {"ratio": 1.0}),  # lt=1.0
        ("containers.constrain", {"email": "no-at-sign"}),  # a NewType's pattern
        ("containers.choose_one", {"shape": {"kind": "Triangle", "side": 1.0}}),  # unknown tag
        ("containers.choose_one", {"either": 1.5}),  # str | int
        ("scalars.choose", {"colour": "blue"}),  # not an Enum value
        ("catalog.address", {"contact": {"email": "a@b"}}),  # required keys missing
    ],
)
def test_payloads_msgspec_refuses_fail_validation(
    schemas: Path, wire_name: str, change: dict[str, Any]
) -> None:
    task = TASKS[wire_name]
    valid = _valid_message(task)
    broken = {**valid, **change}
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode(broken), type=task.args)
    errors = list(validator(schemas, wire_name, "args").iter_errors(broken))
    assert errors, f"{wire_name}: the schema accepts {change}, which msgspec refuses"


def _valid_message(task: LiveTask) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    @settings(max_examples=50, deadline=None, database=None)
    @given(_values(task.args))
    def first(message: Any) -> None:
        try:
            msgspec.json.decode(msgspec.json.encode(message), type=task.args)
        except msgspec.ValidationError:
            return
        found.append(message)

    first()
    assert found, f"no valid arguments drawn for {task.spec.wire_name}"
    return found[0]


def test_schema_check_finds_stale_files_and_a_rerun_is_identical(schemas: Path) -> None:
    root = schemas.parent
    before = {p.name: p.read_bytes() for p in schemas.iterdir()}
    run = CliRunner().invoke(app, ["schema", "every_type", "--out", "out", "--root", str(root)])
    assert run.exit_code == 0, run.output
    assert {p.name: p.read_bytes() for p in schemas.iterdir()} == before
    check = ["schema", "every_type", "--out", "out", "--root", str(root), "--check"]
    assert CliRunner().invoke(app, check).exit_code == 0
    (schemas / "scalars.ping.args.schema.json").write_text("{}\n")
    stale = CliRunner().invoke(app, check)
    assert stale.exit_code == 1
    assert "scalars.ping.args.schema.json" in stale.output
    assert CliRunner().invoke(app, check[:-1]).exit_code == 0  # rewritten


def test_asyncapi_has_a_message_per_task_on_its_queue_channel(schemas: Path) -> None:
    document = json.loads((schemas / "asyncapi.json").read_text())
    assert document["asyncapi"] == "3.0.0"
    for wire_name, task in TASKS.items():
        queue = task.spec.options.queue
        channel = document["channels"][queue]
        assert channel["address"] == f"taskgen:{{{queue}}}:ready:{{level}}"
        messages = [
            document["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
            for ref in channel["messages"].values()
        ]
        message = next(m for m in messages if m["name"] == wire_name)
        args_ref = message["payload"]["prefixItems"][3]["$ref"]
        assert (schemas / args_ref).is_file()
        assert message["payload"]["prefixItems"][2]["const"] == task.spec.fingerprint
