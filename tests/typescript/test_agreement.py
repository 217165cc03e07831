"""Byte-for-byte agreement: the TypeScript client encodes what the Python client encodes.

For every task of the every-type fixture, hypothesis generates argument values from the
contract's own types (the round-trip test's strategies); the Python client encodes each one
into an envelope. Node reads the same values into the TypeScript types (from the arguments'
msgpack, through the package's decoder) and encodes the envelope with the TypeScript client,
with the same task id and time. The two envelopes must be identical bytes.

JavaScript holds a moment in a Date (milliseconds, always an instant), so datetimes are drawn
aware and to the millisecond: the one narrowing, said in docs/typescript.md.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, assume, given, settings

from taskgen.runtime import bigint
from taskgen.runtime.taskdef import NO_OPTIONS, TaskDef, encode_call
from taskgen_codegen.contract import load_contracts
from taskgen_codegen.schema.live import LiveTask, live_tasks
from tests.codegen.test_roundtrip import Messages
from tests.typescript.node import node_or_skip

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "every_type"
AGREE = Path(__file__).with_name("agree.mjs")

#: Values drawn per task; 13 tasks, one Node process for all of them.
SAMPLES = 30
NOW = 1_764_000_000_123
#: Loaded once, at import (as the other every-type tests do).
TASKS = live_tasks(load_contracts(FIXTURE), FIXTURE)


def test_every_fixture_task_encodes_the_same_envelope_in_both_clients(every_ts: Path) -> None:
    tasks = TASKS
    cases: list[tuple[str, bytes, dict[str, Any]]] = []
    for wire_name, task in sorted(tasks.items()):
        definition = _task_def(task)
        for i, value in enumerate(_samples(task)):
            task_id = f"{len(cases):032x}"
            _, priority, _, envelope = encode_call(definition, value, NO_OPTIONS, NOW, task_id)
            sample = {
                "task": wire_name,
                "args": bigint.encode(value).hex(),
                "id": task_id,
                "now": NOW,
                "priority": priority,
            }
            cases.append((f"{wire_name} #{i}", envelope, sample))
    assert {c[2]["task"] for c in cases} == set(tasks), "every task must be sampled"
    replies = replay(every_ts, [c[2] for c in cases])
    mismatches = [
        f"{label}: python {envelope.hex()}\n{' ' * len(label)}  node   {reply}"
        for (label, envelope, _), reply in zip(cases, replies, strict=True)
        if reply != envelope.hex()
    ]
    assert not mismatches, f"{len(mismatches)} of {len(cases)} envelopes differ:\n" + "\n".join(
        mismatches[:10]
    )


def _task_def(task: LiveTask) -> TaskDef[Any, Any]:
    spec = task.spec
    return TaskDef(
        name=spec.wire_name,
        queue=spec.options.queue,
        fingerprint=spec.fingerprint,
        args=task.args,
        result=task.result,
        priority=spec.options.priority,
    )


def _samples(task: LiveTask) -> list[msgspec.Struct]:
    found: list[msgspec.Struct] = []
    messages = Messages(loose=False).of(mi.type_info(task.args))
    decoder = bigint.Decoder(task.args)

    @settings(
        max_examples=SAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(messages)
    def collect(message: Any) -> None:
        try:
            value = msgspec.json.decode(msgspec.json.encode(message), type=task.args)
            value = decoder.decode(bigint.encode(_representable(value)))
        except msgspec.ValidationError:
            assume(False)
        found.append(value)

    collect()
    return found


def _representable(value: Any) -> Any:
    """The value as TypeScript can hold it: datetimes aware, to the millisecond."""
    if isinstance(value, datetime.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)
        return aware.replace(microsecond=aware.microsecond // 1000 * 1000)
    if isinstance(value, msgspec.Struct):
        changes = {f: _representable(getattr(value, f)) for f in value.__struct_fields__}
        return msgspec.structs.replace(value, **changes)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # replace() runs __init__: a field left out of it takes its default, as in TypeScript
        changes = {
            f.name: _representable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_representable(v) for v in value))
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_representable(v) for v in value)
    if isinstance(value, dict):
        return {_representable(k): _representable(v) for k, v in value.items()}
    return value


def replay(package: Path, samples: list[dict[str, Any]]) -> list[str]:
    """What the TypeScript client makes of each sample: an envelope's hex, or why not."""
    node, _ = node_or_skip()
    lines = "".join(json.dumps(s) + "\n" for s in samples)
    done = subprocess.run(
        [node, str(AGREE), str(package / "dist")],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    replies = done.stdout.splitlines()
    assert len(replies) == len(samples), done.stderr
    return replies


@pytest.fixture(autouse=True)
def _node() -> None:
    node_or_skip()
