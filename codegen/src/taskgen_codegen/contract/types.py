"""Reading Python type annotations into the contract model."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import types
import typing
import uuid
from typing import Any, TypeVar

import msgspec

from taskgen_codegen.contract.defaults import DefaultSpeller
from taskgen_codegen.contract.errors import Problem, Unsupported
from taskgen_codegen.contract.model import (
    Builtin,
    Constrained,
    Constraints,
    Container,
    ContainerKind,
    Default,
    Definition,
    LiteralType,
    TypeExpr,
    Union,
)
from taskgen_codegen.contract.records import DefinitionReader, location_of_field
from taskgen_codegen.contract.sources import SourceIndex

__all__ = ["TypeReader", "Unsupported", "location_of_field"]

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
    msgspec.UnsetType: "msgspec.UnsetType",
}

_CONTAINERS: dict[Any, ContainerKind] = {
    list: "list",
    set: "set",
    frozenset: "frozenset",
    dict: "dict",
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

#: msgspec types that decode without a schema, or into a view of the message.
_UNTYPED: dict[Any, tuple[str, str]] = {
    msgspec.Raw: (
        "msgspec.Raw is undecoded bytes, so neither side can be checked",
        "decode it into a concrete type, or send bytes",
    ),
    msgspec.msgpack.Ext: (
        "msgspec.msgpack.Ext is an application-defined msgpack extension the client cannot type",
        "send bytes, or a Struct that holds the code and the bytes",
    ),
    memoryview: (
        "memoryview decodes as a view into the received message, which the runtime does not keep",
        "use bytes",
    ),
}

_META_FIELDS = tuple(Constraints.__struct_fields__)

T = TypeVar("T")


class TypeReader(DefinitionReader):
    """Turns annotations into ``TypeExpr`` and collects the named definitions they reach."""

    def __init__(self, sources: SourceIndex) -> None:
        self.sources = sources
        self.definitions: dict[str, Definition] = {}
        self.problems: list[Problem] = []
        self.defaults = DefaultSpeller(lambda cls: self.read(cls).spell())
        self._owners: dict[str, Any] = {}
        #: ``type`` aliases being read, outermost first, since the last class began.
        self._aliases: tuple[Any, ...] = ()

    # -- types -----------------------------------------------------------------------------

    def read(self, tp: Any) -> TypeExpr:
        """The model of one annotation; raises ``Unsupported`` with a hint."""
        scalar = _scalar(tp)
        if scalar is not None:
            return Builtin(scalar)
        origin = typing.get_origin(tp)
        if origin is not None:
            return self._generic(tp, origin)
        if tp is typing.Any or tp is object:
            raise Unsupported(
                f"{'typing.Any' if tp is typing.Any else 'object'} carries no type, "
                "so neither side can be checked",
                "use a concrete type, a Struct, or a union of the types you expect",
            )
        if isinstance(tp, typing.NewType):
            return self._newtype(tp)
        if type(tp).__name__ == "TypeAliasType":
            return self._alias(tp)
        if isinstance(tp, type):
            return self._class(tp)
        if isinstance(tp, typing.TypeVar):
            raise Unsupported(
                f"type variable {tp.__name__} is not a wire type",
                "use a concrete type; generic tasks and Structs are not supported",
            )
        if isinstance(tp, str | typing.ForwardRef):
            raise Unsupported(
                f"the annotation {tp!r} is a string taskgen cannot resolve",
                "import the type it names into the module that uses it",
            )
        raise Unsupported(f"{tp!r} is not a type taskgen can send", _supported_hint())

    def _generic(self, tp: Any, origin: Any) -> TypeExpr:
        """A subscripted type: ``Annotated``, unions, ``Literal`` and collections."""
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
        name = getattr(origin, "__name__", repr(origin))
        if name in _ABSTRACT_HINTS and getattr(origin, "__module__", "") == "collections.abc":
            raise _abstract(name)
        if isinstance(origin, type) or type(origin).__name__ == "TypeAliasType":
            raise Unsupported(
                f"{name} is generic ({tp!r})",
                f"declare a concrete {name} for each use; generic types are not supported",
            )
        raise Unsupported(f"{tp!r} is not a type taskgen can send", _supported_hint())

    def _class(self, cls: type) -> TypeExpr:
        if cls in _CONTAINERS or cls is tuple:
            name = cls.__name__
            example = {"dict": "dict[str, int]", "tuple": "tuple[int, ...]"}.get(
                name, f"{name}[int]"
            )
            raise Unsupported(f"bare {name} does not say what it holds", f"write e.g. {example}")
        if cls in _UNTYPED:
            raise Unsupported(*_UNTYPED[cls])
        if issubclass(cls, msgspec.Struct):
            return self._struct(cls)
        if issubclass(cls, enum.Enum):
            return self._enum(cls)
        if dataclasses.is_dataclass(cls):
            return self._dataclass(cls)
        if typing.is_typeddict(cls):
            return self._typeddict(cls)
        if issubclass(cls, tuple) and hasattr(cls, "_fields"):
            return self._namedtuple(cls)
        if hasattr(cls, "__attrs_attrs__"):
            raise Unsupported(
                f"attrs class {cls.__name__} would make the client depend on attrs",
                "declare it as a msgspec.Struct with the same fields and defaults",
            )
        if cls.__name__ in _ABSTRACT_HINTS and cls.__module__ in ("collections.abc", "typing"):
            raise _abstract(cls.__name__)
        raise Unsupported(
            f"{cls.__module__}.{cls.__qualname__} is not a type taskgen can send",
            "declare it as a msgspec.Struct, or " + _supported_hint(),
        )

    def _annotated(self, tp: Any) -> TypeExpr:
        inner = self.read(tp.__origin__)
        metas = [m for m in tp.__metadata__ if isinstance(m, msgspec.Meta)]
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

    def _alias(self, tp: Any) -> TypeExpr:
        """A ``type X = ...`` alias (Python 3.12+) is read through: msgspec sees its value."""
        name = tp.__name__
        if type(tp).__module__ != "typing":
            raise Unsupported(
                f"{name} is a typing_extensions.TypeAliasType, which msgspec cannot read "
                "(it reads only the aliases of Python 3.12's `type` statement)",
                f"write a plain alias, `{name} = <type>`, or `type {name} = <type>` on 3.12+",
            )
        if tp.__type_params__:
            raise Unsupported(
                f"type alias {name} is generic",
                f"declare a concrete alias for each use of {name}",
            )
        if tp in self._aliases:
            raise Unsupported(
                f"type alias {name} refers to itself without a class in between",
                "make the recursive part a msgspec.Struct, whose fields may refer to it",
            )
        outer = self._aliases
        self._aliases = (*outer, tp)
        try:
            return self.read(tp.__value__)
        finally:
            self._aliases = outer

    # -- defaults --------------------------------------------------------------------------

    def default(self, value: Any) -> Default:
        """A default value spelled as Python source."""
        return self.defaults.value(value)

    def factory(self, factory: Any) -> Default:
        """A default factory spelled as Python source."""
        return self.defaults.factory(factory)


def _scalar(tp: Any) -> str | None:
    """The builtin spelling of a scalar type; Annotated metadata may be unhashable."""
    try:
        return _SCALARS.get(tp)
    except TypeError:
        return None


def _abstract(name: str) -> Unsupported:
    return Unsupported(
        f"abstract {name} does not say which concrete type goes on the wire",
        f"use {_ABSTRACT_HINTS[name]}",
    )


def _supported_hint() -> str:
    return (
        "use None, bool, int, float, str, bytes, datetime/date/time/timedelta, UUID, Decimal, "
        "Enum, Literal, unions, list/tuple/set/frozenset/dict, msgspec.Struct, dataclass, "
        "TypedDict, NamedTuple, NewType, Annotated[..., msgspec.Meta(...)]"
    )
