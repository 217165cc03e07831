"""JSON Schema for each task's arguments and result, from msgspec's own schema generator.

msgspec writes the schema of its JSON encoding. The msgpack wire differs from that JSON in three
ways only, and the other way round each is a fixed mapping (docs/wire.md, "Validating a payload"):
``bin`` is the base64 string, a timestamp extension the RFC 3339 string, extension type 1 the
integer, and a map key the string JSON would give it. So a payload read from Redis, decoded and
mapped that way, validates against these schemas, in any language.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import msgspec

from taskgen_codegen.contract.model import ContractModel
from taskgen_codegen.schema.live import LiveTask, live_classes

DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: Says, in every document, how a msgpack payload becomes the JSON the schema describes.
WIRE_NOTE = (
    "Describes a msgpack payload read as JSON: bin as base64 text, a timestamp extension (-1) "
    "as RFC 3339 text, extension type 1 (a big-endian two's complement int) as the integer, "
    "map keys as text. See docs/wire.md of taskgen."
)


def file_stem(wire_name: str) -> str:
    """A wire name as a file name (``:`` is not portable)."""
    return wire_name.replace(":", "~")


def task_schemas(tasks: dict[str, LiveTask]) -> dict[str, dict[str, Any]]:
    """``<wire>.args.schema.json`` and ``<wire>.result.schema.json`` of every task, and
    ``<wire>.progress.schema.json`` of one that declares a progress type."""
    documents: dict[str, dict[str, Any]] = {}
    classes = live_classes(tasks)
    for wire_name, task in sorted(tasks.items()):
        stem = file_stem(wire_name)
        documents[f"{stem}.args.schema.json"] = schema_of(
            task.args, f"{wire_name} arguments", task.spec.doc, classes
        )
        documents[f"{stem}.result.schema.json"] = schema_of(
            task.result, f"{wire_name} result", None, classes
        )
        if task.progress is not None:
            documents[f"{stem}.progress.schema.json"] = schema_of(
                task.progress, f"{wire_name} progress reports", None, classes
            )
    return documents


def schema_of(
    tp: Any, title: str, description: str | None, classes: dict[str, Any]
) -> dict[str, Any]:
    """One standalone document: the type's schema and the definitions it refers to."""
    (root,), definitions = msgspec.json.schema_components([tp], ref_template="#/$defs/{name}")
    for name, schema in definitions.items():
        cls = classes.get(name)
        if isinstance(cls, type) and issubclass(cls, enum.Flag):
            schema["enum"] = flag_values(cls)
    document: dict[str, Any] = {"$schema": DIALECT, "$comment": WIRE_NOTE, "title": title}
    if description:
        document["description"] = description
    document.update(root)
    if definitions:
        document["$defs"] = dict(sorted(definitions.items()))
    return document


#: Above this many combinations a Flag's schema gives its range instead of every value.
MAX_FLAG_VALUES = 1024


def flag_values(cls: type[enum.Flag]) -> list[int]:
    """Every value a Flag takes: any combination of its members (msgspec's schema lists only
    the members themselves, though msgspec decodes any combination)."""
    values = {0}
    for member in cls:
        values |= {v | int(member.value) for v in values}
        if len(values) > MAX_FLAG_VALUES:
            return list(range(max(values) + 1))
    return sorted(values)


def render_json(document: dict[str, Any]) -> str:
    """A document as deterministic, readable JSON."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def queues_of(model: ContractModel) -> list[str]:
    """The queues the contract's tasks go to, sorted."""
    return sorted({t.options.queue for t in model.tasks})
