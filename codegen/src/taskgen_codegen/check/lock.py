"""The lock file: the accepted wire shape of every task, written by ``taskgen build``.

It is JSON meant to be read in a code review: every task lists its parameters in signature
order, every type is a tree of nodes (``{"kind": "list", "of": {"kind": "ref", "name": "Money"}}``,
see ``lock_tree``), and every Struct, Enum and other named type a task reaches is written out
once with its fields and options. ``taskgen check`` compares contracts with it, reading it back
by its structure; a lock of the previous format (types spelled as Python) is read as well.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Literal

import msgspec

from taskgen.errors import TaskgenError
from taskgen_codegen.check.json_lines import JsonPath, line_of, pointer, value_lines
from taskgen_codegen.check.lock_tree import NodeError, type_node, type_of
from taskgen_codegen.check.lock_v1 import read_spelled
from taskgen_codegen.contract.fingerprint import reachable, task_roots
from taskgen_codegen.contract.model import (
    ContractModel,
    DataclassDef,
    Default,
    Definition,
    EnumDef,
    Field,
    NamedTupleDef,
    NewTypeDef,
    Param,
    ParamKind,
    StructDef,
    TaskSpec,
    TypedDictDef,
    TypeExpr,
)

LOCK_NAME = "taskgen.lock"
LOCK_VERSION = 2
NOTICE = (
    "Written by `taskgen build`: the accepted wire shape of every task. Do not edit; commit it. "
    "`taskgen check` compares the contracts with it."
)

#: The Struct options that change how a value looks on the wire, or what a decoder accepts.
WIRE_OPTIONS = ("array_like", "forbid_unknown_fields", "omit_defaults", "tag", "tag_field")
#: The options that change only the Python API of the generated class.
SOURCE_OPTIONS = ("frozen", "order", "eq")

OptionValue = bool | str | int

#: What a named type is: a record, a NewType, or an Enum by its kind.
TypeKind = Literal[
    "struct", "dataclass", "typeddict", "namedtuple", "newtype",
    "Enum", "IntEnum", "StrEnum", "Flag", "IntFlag",
]  # fmt: skip


class LockParam(msgspec.Struct, frozen=True, omit_defaults=True):
    """One task parameter: no ``default`` means the caller must pass it."""

    name: str
    kind: ParamKind
    type: TypeExpr
    default: str | None = None


class LockField(msgspec.Struct, frozen=True, omit_defaults=True):
    """One field of a named type; ``wire`` only when it differs from ``name``."""

    name: str
    type: TypeExpr
    wire: str | None = None
    default: str | None = None
    required: bool = True
    kw_only: bool = False
    init: bool = True
    #: The base class that declares an inherited field.
    declared_in: str | None = None

    @property
    def wire_name(self) -> str:
        return self.wire or self.name

    @property
    def optional(self) -> bool:
        """A decoder accepts a message without it."""
        return self.default is not None or not self.required


class LockType(msgspec.Struct, frozen=True, omit_defaults=True):
    """One named type: a Struct, dataclass, TypedDict, NamedTuple, Enum kind or NewType."""

    kind: TypeKind
    options: dict[str, OptionValue] = {}
    fields: tuple[LockField, ...] = ()
    members: dict[str, str | int] = {}
    base: TypeExpr | None = None

    @property
    def is_enum(self) -> bool:
        return self.kind in ("Enum", "IntEnum", "StrEnum", "Flag", "IntFlag")

    @property
    def positional(self) -> bool:
        """Fields travel as an array, so their order is part of the wire format."""
        return self.kind == "namedtuple" or bool(self.options.get("array_like"))


class LockTask(msgspec.Struct, frozen=True, omit_defaults=True):
    """One task as the wire sees it, plus where its client method lives."""

    function: str
    queue: str
    params: tuple[LockParam, ...]
    returns: TypeExpr
    types: tuple[str, ...]
    fingerprint: str
    #: Recorded by the build, not the contracts (see ``taskgen_codegen.check.lineage``): earlier
    #: fingerprints whose payloads this version decodes, and whose workers decode its payloads.
    accepts: tuple[str, ...] = ()
    decoded_by: tuple[str, ...] = ()
    #: The type of its progress reports, if the contract declares one (a lock written before
    #: progress types existed has none).
    progress: TypeExpr | None = None


class Lock(msgspec.Struct, frozen=True):
    """A whole lock file."""

    notice: str
    version: int
    package: str
    tasks: dict[str, LockTask]
    types: dict[str, LockType]


class LockError(TaskgenError):
    """A lock file that cannot be read; the message says which and what to do."""


def lock_of(model: ContractModel) -> Lock:
    """The lock of a loaded contract model."""
    definitions = {d.name: d for d in model.definitions}
    tasks = {t.wire_name: _task(t, definitions) for t in sorted(model.tasks, key=_wire)}
    types = {d.name: _type(d) for d in sorted(model.definitions, key=lambda d: d.name)}
    return Lock(NOTICE, LOCK_VERSION, model.package, tasks, types)


def encode_lock(lock: Lock) -> str:
    """The lock as indented JSON with a final newline: the same bytes for the same contracts.

    Each task, parameter, named type and field starts a line of its own; a parameter, field,
    type node or list of names that fits on one line is written on one line, so that a change
    to it shows as one changed line in a review.
    """
    return _json(_document(lock), "", None) + "\n"


def _document(lock: Lock) -> dict[str, object]:
    """The lock as JSON values, each type as its tree of nodes."""
    return {
        "notice": lock.notice,
        "version": lock.version,
        "package": lock.package,
        "tasks": {wire: _task_document(task) for wire, task in lock.tasks.items()},
        "types": {name: _type_document(kind) for name, kind in lock.types.items()},
    }


def _task_document(task: LockTask) -> dict[str, object]:
    document: dict[str, object] = msgspec.to_builtins(task)
    document["params"] = [_typed(msgspec.to_builtins(p), p.type) for p in task.params]
    document["returns"] = type_node(task.returns)
    if task.progress is not None:
        document["progress"] = type_node(task.progress)
    return document


def _type_document(kind: LockType) -> dict[str, object]:
    document: dict[str, object] = msgspec.to_builtins(kind)
    if kind.fields:
        document["fields"] = [_typed(msgspec.to_builtins(f), f.type) for f in kind.fields]
    if kind.base is not None:
        document["base"] = type_node(kind.base)
    return document


def _typed(document: dict[str, object], expr: TypeExpr) -> dict[str, object]:
    """A parameter or field with its type as a tree; the type stays where it was declared."""
    return {**document, "type": type_node(expr)}


_INLINE_WIDTH = 100
#: Lists whose every item starts a line, however short.
_ONE_PER_LINE = frozenset({"params", "fields"})


def _json(value: object, indent: str, key: object) -> str:
    if not isinstance(value, dict | list | tuple) or not value:
        return msgspec.json.encode(value).decode()
    items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    inner = indent + "  "

    def item(key: object, rendered: str) -> str:
        return rendered if key is None else f"{msgspec.json.encode(key).decode()}: {rendered}"

    parts = [item(k, _json(v, inner, k)) for k, v in items]
    # The document, its tasks and types, and each task and type are always laid out in full;
    # a part laid out over lines does not fit on one.
    if len(indent) >= 6 and key not in _ONE_PER_LINE and not any("\n" in p for p in parts):
        flat = opening + ", ".join(parts) + closing
        # The line holds the indent, the key, the value and a comma.
        if len(item(key, flat)) + len(indent) + 1 <= _INLINE_WIDTH:
            return flat
    lines = ",\n".join(inner + part for part in parts)
    return f"{opening}\n{lines}\n{indent}{closing}"


_REMEDY = (
    "restore it from version control, or run `taskgen build` to write it again from the "
    "contracts (then review its diff)"
)

#: How each format reads a type: version 1 spelled it as Python, version 2 writes a tree.
_TYPE_READERS: dict[object, Callable[[object, JsonPath, Collection[str]], TypeExpr]] = {
    1: read_spelled,
    LOCK_VERSION: type_of,
}


def decode_lock(text: str | bytes, source: str) -> Lock:
    """Read a lock file written by ``encode_lock``, or by the taskgen before it (version 1).

    A lock that cannot be read raises ``LockError``, whose one line names the file, the line
    of what is wrong, and what to do."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = exc.lineno if isinstance(exc, json.JSONDecodeError) else 1
        problem = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise LockError(
            f"{source}:{line}: not a taskgen lock file ({problem}); {_REMEDY}"
        ) from None
    if not isinstance(document, dict):
        raise LockError(f"{source}:1: not a taskgen lock file (not a JSON object); {_REMEDY}")
    version = document.get("version")
    read = _TYPE_READERS.get(version) if type(version) is int else None
    if read is None:
        raise LockError(
            f"{source}: lock file version {version}, this taskgen reads "
            f"{', '.join(map(str, _TYPE_READERS))}; use the taskgen version that wrote it, "
            "or rebuild to rewrite it"
        )
    names = document["types"] if isinstance(document.get("types"), dict) else {}
    try:
        for path, holder, key in _type_slots(document):
            holder[key] = read(holder[key], path, names)
        document["version"] = LOCK_VERSION
        lock = msgspec.convert(document, type=Lock)
        _check_newtypes(lock)
    except NodeError as exc:
        raise _unreadable(text, source, exc.path, exc.problem) from None
    except msgspec.ValidationError as exc:
        raise _unreadable(text, source, *_invalid_part(document, exc)) from None
    return lock


def _type_slots(document: dict[str, object]) -> Iterator[tuple[JsonPath, dict[str, object], str]]:
    """Where the document holds a type: each task's parameters and result, each named type's
    fields and NewType base; a part of another shape is left for the Struct decoder to refuse."""
    for wire, task in _entries(document, "tasks"):
        for index, param in enumerate(_list(task.get("params"))):
            if isinstance(param, dict) and "type" in param:
                yield ("tasks", wire, "params", index, "type"), param, "type"
        for key in ("returns", "progress"):
            if key in task:
                yield ("tasks", wire, key), task, key
    for name, kind in _entries(document, "types"):
        for index, field in enumerate(_list(kind.get("fields"))):
            if isinstance(field, dict) and "type" in field:
                yield ("types", name, "fields", index, "type"), field, "type"
        if "base" in kind:
            yield ("types", name, "base"), kind, "base"


def _entries(document: dict[str, object], section: str) -> list[tuple[str, dict[str, object]]]:
    entries = document.get(section)
    if not isinstance(entries, dict):
        return []
    return [(k, v) for k, v in entries.items() if isinstance(v, dict)]


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _check_newtypes(lock: Lock) -> None:
    for name, kind in lock.types.items():
        if (kind.kind == "newtype") != (kind.base is not None):
            problem = "a newtype needs a base" if kind.base is None else "only a newtype has a base"
            raise NodeError(("types", name), problem)


_AT = re.compile(r" - at `\$([^`]*)`$")
_STEP = re.compile(r"\.(\w+)|\[(\d+)\]|\[\.\.\.\]")


def _invalid_part(
    document: dict[str, object], error: msgspec.ValidationError
) -> tuple[JsonPath, str]:
    """The path of what the Struct decoder refused, and why: the decoder's own path does not
    name dictionary keys (``$.tasks[...]``), so each task and type is decoded on its own."""
    parts: list[tuple[str, str, dict[str, object], type[LockTask] | type[LockType]]] = [
        *(("tasks", wire, task, LockTask) for wire, task in _entries(document, "tasks")),
        *(("types", name, kind, LockType) for name, kind in _entries(document, "types")),
    ]
    for section, key, entry, shape in parts:
        try:
            msgspec.convert(entry, type=shape)
        except msgspec.ValidationError as exc:
            return (section, key, *_steps(str(exc))), _AT.sub("", str(exc))
    return _steps(str(error)), _AT.sub("", str(error))


def _steps(message: str) -> JsonPath:
    """The path in a msgspec error message, up to its first dictionary key (``[...]``)."""
    match = _AT.search(message)
    steps: list[str | int] = []
    for step in _STEP.finditer(match.group(1) if match else ""):
        if step.group(0) == "[...]":
            break
        steps.append(step.group(1) if step.group(1) is not None else int(step.group(2)))
    return tuple(steps)


def _unreadable(text: str | bytes, source: str, path: JsonPath, problem: str) -> LockError:
    lines = value_lines(text.decode() if isinstance(text, bytes) else text)
    return LockError(f"{source}:{line_of(lines, path)}: {problem} at {pointer(path)}; {_REMEDY}")


def accepted_lock(path: Path) -> Lock | None:
    """The lock file at ``path``; None when there is none or it cannot be read."""
    try:
        return decode_lock(path.read_bytes(), str(path)) if path.is_file() else None
    except LockError:
        return None


def _wire(task: TaskSpec) -> str:
    return task.wire_name


def _task(task: TaskSpec, definitions: dict[str, Definition]) -> LockTask:
    reached = reachable(task_roots(task.params, task.returns, task.progress), definitions)
    return LockTask(
        function=f"{task.module}.{task.name}",
        queue=task.options.queue,
        params=tuple(_param(p) for p in task.params),
        returns=task.returns,
        types=tuple(d.name for d in reached),
        fingerprint=task.fingerprint,
        progress=task.progress,
    )


def _param(param: Param) -> LockParam:
    return LockParam(param.name, param.kind, param.type, _default(param.default))


def _default(default: Default | None) -> str | None:
    if default is None:
        return None
    spelled = default.spell()
    return f"{spelled}()" if default.kind == "factory" else spelled


def _field(field: Field) -> LockField:
    return LockField(
        name=field.name,
        type=field.type,
        wire=field.wire_name if field.wire_name != field.name else None,
        default=_default(field.default),
        required=field.required,
        kw_only=field.kw_only,
        init=field.init,
        declared_in=field.declared_in,
    )


def _type(definition: Definition) -> LockType:
    if isinstance(definition, EnumDef):
        return LockType(definition.kind, members={m.name: m.value for m in definition.members})
    if isinstance(definition, NewTypeDef):
        return LockType("newtype", base=definition.base)
    fields = tuple(_field(f) for f in definition.fields)
    if isinstance(definition, StructDef):
        options: dict[str, OptionValue] = {}
        for name in (*SOURCE_OPTIONS, *WIRE_OPTIONS):
            value = getattr(definition, name)
            if value is not None and value != (name == "eq"):  # only what differs from msgspec's
                options[name] = value
        return LockType("struct", options=options, fields=fields)
    if isinstance(definition, DataclassDef):
        flags = {"frozen": definition.frozen, "order": definition.order}
        return LockType("dataclass", options={k: v for k, v in flags.items() if v}, fields=fields)
    if isinstance(definition, TypedDictDef):
        return LockType("typeddict", fields=fields)
    assert isinstance(definition, NamedTupleDef)
    return LockType("namedtuple", fields=fields)
