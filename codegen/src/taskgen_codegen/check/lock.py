"""The lock file: the accepted wire shape of every task, written by ``taskgen build``.

It is JSON meant to be read in a code review: types are spelled as in Python, every task lists
its parameters in signature order, and every Struct, Enum and other named type a task reaches
is written out once with its fields and options. ``taskgen check`` compares contracts with it.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from taskgen.errors import TaskgenError
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
)

LOCK_NAME = "taskgen.lock"
LOCK_VERSION = 1
NOTICE = (
    "Written by `taskgen build`: the accepted wire shape of every task. Do not edit; commit it. "
    "`taskgen check` compares the contracts with it."
)

#: The Struct options that change how a value looks on the wire, or what a decoder accepts.
WIRE_OPTIONS = ("array_like", "forbid_unknown_fields", "omit_defaults", "tag", "tag_field")
#: The options that change only the Python API of the generated class.
SOURCE_OPTIONS = ("frozen", "order", "eq")

OptionValue = bool | str | int


class LockParam(msgspec.Struct, frozen=True, omit_defaults=True):
    """One task parameter: no ``default`` means the caller must pass it."""

    name: str
    kind: ParamKind
    type: str
    default: str | None = None


class LockField(msgspec.Struct, frozen=True, omit_defaults=True):
    """One field of a named type; ``wire`` only when it differs from ``name``."""

    name: str
    type: str
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

    kind: str
    options: dict[str, OptionValue] = {}
    fields: tuple[LockField, ...] = ()
    members: dict[str, str | int] = {}
    base: str | None = None

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
    returns: str
    types: tuple[str, ...]
    fingerprint: str
    #: Recorded by the build, not the contracts (see ``taskgen_codegen.check.lineage``): earlier
    #: fingerprints whose payloads this version decodes, and whose workers decode its payloads.
    accepts: tuple[str, ...] = ()
    decoded_by: tuple[str, ...] = ()


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

    A parameter, field or list of names that fits on one line is written on one line, so that
    a change to it shows as one changed line in a review.
    """
    return _json(msgspec.to_builtins(lock), "") + "\n"


_INLINE_WIDTH = 100


def _json(value: object, indent: str) -> str:
    if not isinstance(value, dict | list | tuple) or not value:
        return msgspec.json.encode(value).decode()
    items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    inner = indent + "  "

    def item(key: object, rendered: str) -> str:
        return rendered if key is None else f"{msgspec.json.encode(key).decode()}: {rendered}"

    if not any(isinstance(v, dict | list | tuple) and v for _, v in items):
        flat = opening + ", ".join(item(k, _json(v, inner)) for k, v in items) + closing
        if len(inner) + len(flat) <= _INLINE_WIDTH:
            return flat
    lines = ",\n".join(inner + item(k, _json(v, inner)) for k, v in items)
    return f"{opening}\n{lines}\n{indent}{closing}"


def decode_lock(text: str | bytes, source: str) -> Lock:
    """Read a lock file written by ``encode_lock``."""
    try:
        lock = msgspec.json.decode(text, type=Lock)
    except msgspec.DecodeError as exc:
        raise LockError(
            f"{source}: not a taskgen lock file ({exc}); restore it from version control "
            "or run `taskgen build` to write it again"
        ) from None
    if lock.version != LOCK_VERSION:
        raise LockError(
            f"{source}: lock file version {lock.version}, this taskgen reads {LOCK_VERSION}; "
            "use the taskgen version that wrote it, or rebuild to rewrite it"
        )
    return lock


def accepted_lock(path: Path) -> Lock | None:
    """The lock file at ``path``; None when there is none or it cannot be read."""
    try:
        return decode_lock(path.read_bytes(), str(path)) if path.is_file() else None
    except LockError:
        return None


def _wire(task: TaskSpec) -> str:
    return task.wire_name


def _task(task: TaskSpec, definitions: dict[str, Definition]) -> LockTask:
    reached = reachable(task_roots(task.params, task.returns), definitions)
    return LockTask(
        function=f"{task.module}.{task.name}",
        queue=task.options.queue,
        params=tuple(_param(p) for p in task.params),
        returns=task.returns.spell(),
        types=tuple(d.name for d in reached),
        fingerprint=task.fingerprint,
    )


def _param(param: Param) -> LockParam:
    return LockParam(param.name, param.kind, param.type.spell(), _default(param.default))


def _default(default: Default | None) -> str | None:
    if default is None:
        return None
    spelled = default.spell()
    return f"{spelled}()" if default.kind == "factory" else spelled


def _field(field: Field) -> LockField:
    return LockField(
        name=field.name,
        type=field.type.spell(),
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
        return LockType("newtype", base=definition.base.spell())
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
