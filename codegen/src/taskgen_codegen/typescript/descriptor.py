"""The wire description the TypeScript runtime walks: every type, field order and default.

The model gives the types; the contract's live classes give what only msgspec knows: the order
it writes fields in, and the bytes of each default (hex), so the TypeScript client fills in a
left-out field exactly as the Python client does.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import msgspec

from taskgen_codegen.contract.model import (
    Builtin,
    Constrained,
    Container,
    ContractModel,
    DataclassDef,
    Definition,
    EnumDef,
    Field,
    LiteralType,
    NamedTupleDef,
    NewTypeDef,
    Ref,
    StructDef,
    TypedDictDef,
    TypeExpr,
    Union,
)
from taskgen_codegen.schema.live import LiveTask, default_bytes
from taskgen_codegen.typescript.regex import js_pattern

Json = dict[str, Any]

_BUILTINS = {
    "None": "none",
    "bool": "bool",
    "int": "int",
    "float": "float",
    "str": "str",
    "bytes": "bytes",
    "bytearray": "bytes",
    "datetime.datetime": "datetime",
    "datetime.date": "date",
    "datetime.time": "time",
    "datetime.timedelta": "timedelta",
    "uuid.UUID": "uuid",
    "decimal.Decimal": "decimal",
    "msgspec.UnsetType": "unset",
}

_CONTAINERS = {"list": "list", "vartuple": "list", "set": "set", "frozenset": "set"}

#: Constraints the encoder checks; titles and descriptions are documentation only.
_CHECKED = ("gt", "ge", "lt", "le", "multiple_of", "pattern", "min_length", "max_length", "tz")


def type_ref(expr: TypeExpr) -> Json:
    """One type as the runtime's ``TypeRef``."""
    if isinstance(expr, Builtin):
        return {"k": _BUILTINS[expr.name]}
    if isinstance(expr, Ref):
        return {"k": "ref", "name": expr.name}
    if isinstance(expr, Container):
        if expr.kind in _CONTAINERS:
            return {"k": _CONTAINERS[expr.kind], "of": type_ref(expr.args[0])}
        if expr.kind == "dict":
            return {"k": "dict", "key": type_ref(expr.args[0]), "value": type_ref(expr.args[1])}
        return {"k": "tuple", "items": [type_ref(a) for a in expr.args]}
    if isinstance(expr, Union):
        return {"k": "union", "options": [type_ref(o) for o in expr.options]}
    if isinstance(expr, LiteralType):
        return {"k": "literal", "values": list(expr.values)}
    assert isinstance(expr, Constrained)
    meta = {n: getattr(expr.meta, n) for n in _CHECKED if getattr(expr.meta, n) is not None}
    if not meta:
        return type_ref(expr.inner)
    if "pattern" in meta:
        meta["js_pattern"] = js_pattern(meta["pattern"])
    return {"k": "meta", "of": type_ref(expr.inner), "meta": meta}


def definitions(model: ContractModel, classes: dict[str, Any]) -> Json:
    """Every definition of the contract, by name."""
    return {d.name: definition(d, classes[d.name]) for d in model.definitions}


def definition(d: Definition, cls: Any) -> Json:
    """One definition as the runtime's ``Definition``."""
    if isinstance(d, EnumDef):
        values = list(dict.fromkeys(m.value for m in d.members))
        return {"k": "enum", "values": values, "flag": d.kind in ("Flag", "IntFlag")}
    if isinstance(d, NewTypeDef):
        return {"k": "newtype", "base": type_ref(d.base)}
    if isinstance(d, TypedDictDef):
        return {"k": "typeddict", "fields": [_field(f, NO_DEFAULT) for f in d.fields]}
    if isinstance(d, NamedTupleDef):
        found = cls._field_defaults
        return {"k": "namedtuple", "fields": [_field(f, _given(found, f.name)) for f in d.fields]}
    if isinstance(d, DataclassDef):
        return _record(d.fields, _dataclass_defaults(cls), False, False)
    assert isinstance(d, StructDef)
    record = _record(d.fields, _struct_defaults(cls), d.array_like, d.omit_defaults)
    if d.tag is not None:
        record.update(tag=d.tag, tagField=d.tag_field)
    if d.omit_defaults:
        for field in record["fields"]:
            if "default" in field:
                field.update(_omission(cls, field["name"]))
    return record


def _omission(cls: Any, name: str) -> Json:
    """When msgspec leaves an ``omit_defaults`` field out, asked of msgspec itself.

    msgspec compares with the default by identity (an empty collection for a collection
    factory), so the answer depends on the default, not only on its value: a field left out is
    omitted unless its factory makes a new object (a Struct, say); a given value equal to the
    default is omitted only where decoding yields the very default object (None, a bool, an
    Enum member, a small int, an empty str or tuple, an empty collection). One-field probe
    Structs with the same annotation and default answer both questions.
    """
    info = next(f for f in msgspec.structs.fields(cls) if f.name == name)
    hint = typing.get_type_hints(cls, include_extras=True)[name]
    if info.default_factory is not msgspec.NODEFAULT:
        default: Any = msgspec.field(default_factory=info.default_factory)
    else:
        default = info.default
    probe = msgspec.defstruct("Probe", [(name, hint, default)], omit_defaults=True)
    empty = msgspec.msgpack.encode({})
    encoded = msgspec.msgpack.encode(probe())
    fields = msgspec.msgpack.decode(encoded)
    again = msgspec.msgpack.decode(
        msgspec.msgpack.encode(fields.get(name, getattr(probe(), name))), type=hint
    )
    return {
        "omitAbsent": encoded == empty,
        "omitEqual": msgspec.msgpack.encode(probe(**{name: again})) == empty,
    }


def _record(fields: tuple[Field, ...], found: dict[str, Any], array_like: bool, omit: bool) -> Json:
    """A Struct or dataclass, its fields in the order msgspec writes them (``found``'s)."""
    by_name = {f.name: f for f in fields}
    return {
        "k": "struct",
        "fields": [_field(by_name[name], default) for name, default in found.items()],
        "arrayLike": array_like,
        "omitDefaults": omit,
    }


class _NoDefault:
    """The marker of a field or parameter without a default (None is a default)."""


NO_DEFAULT: Any = _NoDefault()


def _given(found: dict[str, Any], name: str) -> Any:
    return found.get(name, NO_DEFAULT)


def _field(f: Field, default: Any) -> Json:
    field: Json = {"name": f.name, "wire": f.wire_name, "type": type_ref(f.type)}
    # UNSET is no value: a field left out stays out of the message
    if default is not NO_DEFAULT and default is not msgspec.UNSET:
        field["default"] = default_bytes(default).hex()
    field["required"] = f.required
    field["init"] = f.init
    return field


def _struct_defaults(cls: Any) -> dict[str, Any]:
    """Each field's default value (a factory called), in msgspec's order."""
    found: dict[str, Any] = {}
    for info in msgspec.structs.fields(cls):
        if info.default is not msgspec.NODEFAULT:
            found[info.name] = info.default
        elif info.default_factory is not msgspec.NODEFAULT:
            found[info.name] = info.default_factory()
        else:
            found[info.name] = NO_DEFAULT
    return found


def _dataclass_defaults(cls: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for info in dataclasses.fields(cls):
        if info.default is not dataclasses.MISSING:
            found[info.name] = info.default
        elif info.default_factory is not dataclasses.MISSING:
            found[info.name] = info.default_factory()
        else:
            found[info.name] = NO_DEFAULT
    return found


def task_def(task: LiveTask) -> Json:
    """One task as the runtime's ``TaskDef``, without its definitions."""
    spec = task.spec
    defaults = _struct_defaults(task.args)
    params = []
    for param in spec.params:
        entry: Json = {"name": param.name, "type": type_ref(param.type)}
        default = defaults[param.name]
        if default is not NO_DEFAULT:
            entry["default"] = default_bytes(default).hex()
        params.append(entry)
    return {
        "name": spec.wire_name,
        "queue": spec.options.queue,
        "fingerprint": spec.fingerprint,
        "priority": int(spec.options.priority),
        "resultTtl": spec.options.result_ttl,
        "params": params,
        "result": type_ref(spec.returns),
    }
