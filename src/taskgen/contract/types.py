"""Reading Python type annotations into the contract model."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import math
import types
import typing
import uuid
from typing import Any

import msgspec

from taskgen.contract.errors import Location, Problem
from taskgen.contract.model import (
    Builtin,
    Constrained,
    Constraints,
    Container,
    ContainerKind,
    DataclassDef,
    Default,
    Definition,
    EnumDef,
    EnumMember,
    Field,
    LiteralType,
    NewTypeDef,
    Ref,
    StructDef,
    TypedDictDef,
    TypeExpr,
    Union,
    literal,
)
from taskgen.contract.sources import SourceIndex

_SCALARS: dict[Any, str] = {
    type(None): "None",
    None: "None",
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    bytes: "bytes",
    bytearray: "bytearray",
    datetime.datetime: "datetime.datetime",
    datetime.date: "datetime.date",
    datetime.time: "datetime.time",
    datetime.timedelta: "datetime.timedelta",
    uuid.UUID: "uuid.UUID",
    decimal.Decimal: "decimal.Decimal",
}

_CONTAINERS: dict[Any, ContainerKind] = {
    list: "list",
    set: "set",
    frozenset: "frozenset",
    dict: "dict",
}

_FACTORIES: dict[Any, str] = {
    list: "list",
    dict: "dict",
    set: "set",
    frozenset: "frozenset",
    bytearray: "bytearray",
    tuple: "tuple",
}

_ABSTRACT_HINTS: dict[str, str] = {
    "Sequence": "list[...]",
    "MutableSequence": "list[...]",
    "Collection": "list[...]",
    "Iterable": "list[...]",
    "Mapping": "dict[...]",
    "MutableMapping": "dict[...]",
    "AbstractSet": "frozenset[...]",
    "Set": "set[...]",
    "MutableSet": "set[...]",
}

_META_FIELDS = tuple(Constraints.__struct_fields__)


class Unsupported(Exception):
    """A type or default that a contract cannot carry, with the nearest thing that works."""

    def __init__(
        self, message: str, hint: str | None = None, location: Location | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location


class TypeReader:
    """Turns annotations into ``TypeExpr`` and collects the named definitions they reach."""

    def __init__(self, sources: SourceIndex) -> None:
        self.sources = sources
        self.definitions: dict[str, Definition] = {}
        self.problems: list[Problem] = []
        self._owners: dict[str, Any] = {}

    # -- types -----------------------------------------------------------------------------

    def read(self, tp: Any) -> TypeExpr:
        """The model of one annotation; raises ``Unsupported`` with a hint."""
        if tp in _SCALARS:
            return Builtin(_SCALARS[tp])
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            return self._annotated(tp)
        if origin is typing.Union or origin is types.UnionType:
            return Union(tuple(self.read(a) for a in typing.get_args(tp)))
        if origin is typing.Literal:
            return self._literal(tp)
        if origin is tuple:
            return self._tuple(tp)
        if origin in _CONTAINERS:
            return Container(_CONTAINERS[origin], tuple(self.read(a) for a in typing.get_args(tp)))
        if tp is typing.Any or tp is object:
            raise Unsupported(
                f"{'typing.Any' if tp is typing.Any else 'object'} carries no type, "
                "so neither side can be checked",
                "use a concrete type, a Struct, or a union of the types you expect",
            )
        if isinstance(tp, typing.NewType):
            return self._newtype(tp)
        if isinstance(tp, type):
            return self._class(tp)
        if isinstance(tp, typing.TypeVar):
            raise Unsupported(
                f"type variable {tp.__name__} is not a wire type",
                "use a concrete type; generic tasks and Structs are not supported",
            )
        raise Unsupported(f"{tp!r} is not a type taskgen can send", _supported_hint())

    def _class(self, cls: type) -> TypeExpr:
        if cls in _CONTAINERS or cls is tuple:
            name = cls.__name__
            example = {"dict": "dict[str, int]", "tuple": "tuple[int, ...]"}.get(
                name, f"{name}[int]"
            )
            raise Unsupported(f"bare {name} does not say what it holds", f"write e.g. {example}")
        if issubclass(cls, msgspec.Struct):
            return self._struct(cls)
        if issubclass(cls, enum.Enum):
            return self._enum(cls)
        if dataclasses.is_dataclass(cls):
            return self._dataclass(cls)
        if typing.is_typeddict(cls):
            return self._typeddict(cls)
        if cls.__name__ in _ABSTRACT_HINTS and cls.__module__ in ("collections.abc", "typing"):
            raise Unsupported(
                f"abstract {cls.__name__} does not say which concrete type goes on the wire",
                f"use {_ABSTRACT_HINTS[cls.__name__]}",
            )
        raise Unsupported(
            f"{cls.__module__}.{cls.__qualname__} is not a type taskgen can send",
            "declare it as a msgspec.Struct, or " + _supported_hint(),
        )

    def _annotated(self, tp: Any) -> TypeExpr:
        inner = self.read(tp.__origin__)
        metas = [m for m in tp.__metadata__ if isinstance(m, msgspec.Meta)]
        if not metas:
            return inner
        values: dict[str, Any] = {}
        for meta in metas:
            for name in _META_FIELDS:
                value = getattr(meta, name, None)
                if value is not None:
                    values[name] = value
        return Constrained(inner, Constraints(**values)) if values else inner

    def _literal(self, tp: Any) -> TypeExpr:
        values = typing.get_args(tp)
        for value in values:
            if not (value is None or type(value) in (str, int, bool)):
                raise Unsupported(
                    f"Literal value {value!r} is a {type(value).__name__}",
                    "Literal values must be str, int, bool or None; use an Enum for others",
                )
        return LiteralType(values)

    def _tuple(self, tp: Any) -> TypeExpr:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return Container("vartuple", (self.read(args[0]),))
        if args == ((),):
            return Container("tuple", ())
        return Container("tuple", tuple(self.read(a) for a in args))

    # -- named definitions -----------------------------------------------------------------

    def _claim(self, name: str, obj: Any) -> bool:
        """Reserve ``name`` for ``obj``; True if it is already known (or being read)."""
        owner = self._owners.get(name)
        if owner is obj:
            return True
        if owner is not None:
            first = self.sources.of(owner)
            raise Unsupported(
                f"two different types are named {name} (the other is at {first})",
                "rename one: the client package puts every contract type in one namespace",
                self.sources.of(obj),
            )
        self._owners[name] = obj
        return False

    def _newtype(self, tp: Any) -> TypeExpr:
        name = tp.__name__
        if not self._claim(name, tp):
            self.definitions[name] = NewTypeDef(name, self.read(tp.__supertype__))
        return Ref(name)

    def _struct(self, cls: type[msgspec.Struct]) -> TypeExpr:
        name = cls.__name__
        if self._claim(name, cls):
            return Ref(name)
        if getattr(cls, "__parameters__", ()):
            raise Unsupported(
                f"Struct {name} is generic",
                "declare a concrete Struct for each use; generic Structs are not supported",
            )
        config = cls.__struct_config__
        kinds = inspect.signature(cls).parameters
        fields = tuple(
            self._field(
                cls,
                f.name,
                f.type,
                wire_name=f.encode_name,
                default=f.default,
                factory=f.default_factory,
                kw_only=kinds[f.name].kind is inspect.Parameter.KEYWORD_ONLY,
            )
            for f in msgspec.structs.fields(cls)
        )
        self.definitions[name] = StructDef(
            name=name,
            fields=fields,
            frozen=config.frozen,
            order=config.order,
            eq=config.eq,
            array_like=config.array_like,
            forbid_unknown_fields=config.forbid_unknown_fields,
            omit_defaults=config.omit_defaults,
            tag=config.tag,
            tag_field=config.tag_field if config.tag is not None else None,
            location=self.sources.of(cls),
            doc=_doc(cls),
        )
        return Ref(name)

    def _enum(self, cls: type[enum.Enum]) -> TypeExpr:
        name = cls.__name__
        if self._claim(name, cls):
            return Ref(name)
        if issubclass(cls, enum.Flag):
            raise Unsupported(f"Flag enum {name} is not supported", "use a set of an Enum")
        kind: typing.Literal["Enum", "IntEnum", "StrEnum"] = (
            "IntEnum" if issubclass(cls, int) else "StrEnum" if issubclass(cls, str) else "Enum"
        )
        members = []
        for member in cls:
            if type(member.value) not in (str, int):
                raise Unsupported(
                    f"Enum {name}.{member.name} has a {type(member.value).__name__} value",
                    "Enum values must be str or int: msgspec sends an Enum by its value",
                )
            members.append(EnumMember(member.name, member.value))
        self.definitions[name] = EnumDef(
            name, kind, tuple(members), location=self.sources.of(cls), doc=_doc(cls)
        )
        return Ref(name)

    def _dataclass(self, cls: type) -> TypeExpr:
        name = cls.__name__
        if self._claim(name, cls):
            return Ref(name)
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = []
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            fields.append(
                self._field(
                    cls,
                    f.name,
                    hints[f.name],
                    wire_name=f.name,
                    default=f.default,
                    factory=f.default_factory,
                    kw_only=bool(f.kw_only),
                    nodefault=dataclasses.MISSING,
                )
            )
        params = getattr(cls, "__dataclass_params__", None)
        self.definitions[name] = DataclassDef(
            name,
            tuple(fields),
            frozen=bool(getattr(params, "frozen", False)),
            location=self.sources.of(cls),
            doc=_doc(cls),
        )
        return Ref(name)

    def _typeddict(self, cls: type) -> TypeExpr:
        name = cls.__name__
        if self._claim(name, cls):
            return Ref(name)
        hints = typing.get_type_hints(cls, include_extras=True)
        required = getattr(cls, "__required_keys__", frozenset(hints))
        fields = tuple(
            Field(
                key,
                self._field_type(cls, key, _strip_required(tp)),
                wire_name=key,
                required=key in required,
                line=self.sources.field_line(cls, key),
            )
            for key, tp in hints.items()
        )
        self.definitions[name] = TypedDictDef(
            name, fields, location=self.sources.of(cls), doc=_doc(cls)
        )
        return Ref(name)

    def _field(
        self,
        cls: type,
        name: str,
        tp: Any,
        *,
        wire_name: str,
        default: Any,
        factory: Any,
        kw_only: bool,
        nodefault: Any = msgspec.NODEFAULT,
    ) -> Field:
        line = self.sources.field_line(cls, name)
        try:
            spelled = (
                self.default(default)
                if default is not nodefault
                else self.factory(factory)
                if factory is not nodefault
                else None
            )
        except Unsupported as exc:
            raise _at_field(exc, self.sources, cls, name) from None
        return Field(
            name,
            self._field_type(cls, name, tp),
            wire_name=wire_name,
            default=spelled,
            kw_only=kw_only,
            required=spelled is None,
            line=line,
        )

    def _field_type(self, cls: type, name: str, tp: Any) -> TypeExpr:
        try:
            return self.read(tp)
        except Unsupported as exc:
            raise _at_field(exc, self.sources, cls, name) from None

    # -- defaults --------------------------------------------------------------------------

    def default(self, value: Any) -> Default:
        """A default value spelled as Python source."""
        refs: set[str] = set()
        modules: set[str] = set()
        source = self._literal_source(value, refs, modules)
        return Default("value", source, tuple(sorted(refs)), tuple(sorted(modules)))

    def factory(self, factory: Any) -> Default:
        """A default factory spelled as Python source."""
        if factory in _FACTORIES:
            return Default("factory", _FACTORIES[factory])
        if isinstance(factory, type) and (
            issubclass(factory, msgspec.Struct) or dataclasses.is_dataclass(factory)
        ):
            name = self.read(factory).spell()
            return Default("factory", name, refs=(name,))
        raise Unsupported(
            f"default factory {factory!r} cannot be written into the generated client",
            "use list, dict, set, frozenset, tuple, bytearray or a Struct class as the factory",
        )

    def _literal_source(self, value: Any, refs: set[str], modules: set[str]) -> str:
        if value is None or type(value) in (bool, int, str, bytes):
            return literal(value)
        if type(value) is float:
            if not math.isfinite(value):
                raise Unsupported(f"default {value!r} is not finite", "use a finite float or None")
            return literal(value)
        if isinstance(value, enum.Enum):
            name = self.read(type(value)).spell()
            refs.add(name)
            return f"{name}.{value.name}"
        if type(value) is tuple:
            items = [self._literal_source(v, refs, modules) for v in value]
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        if type(value) is frozenset:
            items = sorted(self._literal_source(v, refs, modules) for v in value)
            return f"frozenset({{{', '.join(items)}}})" if items else "frozenset()"
        if type(value) in (datetime.datetime, datetime.date, datetime.time, datetime.timedelta):
            if getattr(value, "tzinfo", None) is not None:
                raise Unsupported(
                    f"default {value!r} has a time zone",
                    "use a naive value, or a None default filled in by the handler",
                )
            modules.add("datetime")
            return repr(value)
        if type(value) in (uuid.UUID, decimal.Decimal):
            module = type(value).__module__
            modules.add(module)
            return f"{module}.{type(value).__name__}({literal(str(value))})"
        if isinstance(value, list | dict | set | bytearray):
            raise Unsupported(
                f"mutable default {value!r} would be shared between calls",
                "use a tuple or frozenset, or None, or a default_factory on a Struct field",
            )
        raise Unsupported(
            f"default {value!r} cannot be written into the generated client",
            "use a literal (str, int, float, bool, bytes, None), an Enum member, or a tuple",
        )


def _strip_required(tp: Any) -> Any:
    """TypedDict's Required[...]/NotRequired[...] wrappers say nothing about the wire type."""
    if typing.get_origin(tp) in (typing.Required, typing.NotRequired):
        return typing.get_args(tp)[0]
    return tp


def _at_field(exc: Unsupported, sources: SourceIndex, cls: type, field: str) -> Unsupported:
    """Name the field in the message; the innermost field's location wins."""
    if exc.location is not None:
        return exc
    message = f"{cls.__name__}.{field}: {exc.message}"
    return Unsupported(message, exc.hint, location_of_field(sources, cls, field))


def _doc(obj: Any) -> str | None:
    doc = inspect.getdoc(obj)
    if not doc or doc == inspect.getdoc(type(obj)):
        return None
    for base in getattr(obj, "__mro__", ())[1:]:
        if doc == inspect.getdoc(base):
            return None
    return doc.strip().splitlines()[0]


def _supported_hint() -> str:
    return (
        "use None, bool, int, float, str, bytes, datetime/date/time/timedelta, UUID, Decimal, "
        "Enum, Literal, unions, list/tuple/set/frozenset/dict, msgspec.Struct, dataclass, "
        "TypedDict, NewType, Annotated[..., msgspec.Meta(...)]"
    )


def location_of_field(sources: SourceIndex, cls: type, field: str) -> Location | None:
    """The ``file:line`` at which ``cls`` declares ``field``."""
    base = sources.of(cls)
    line = sources.field_line(cls, field)
    return Location(base.file, line) if base and line else base
