"""Reading Python type annotations into the contract model."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import types
import typing
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import msgspec

from taskgen_codegen.contract.defaults import DefaultSpeller
from taskgen_codegen.contract.errors import Location, Problem, Unsupported
from taskgen_codegen.contract.model import (
    Builtin,
    Constrained,
    Constraints,
    Container,
    ContainerKind,
    DataclassDef,
    Default,
    Definition,
    EnumDef,
    EnumKind,
    EnumMember,
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


class TypeReader:
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

    @contextmanager
    def _class_body(self, cls: type) -> Iterator[None]:
        """Read a class's fields: a generic class is refused, and aliases start afresh."""
        if getattr(cls, "__parameters__", ()):
            kind = "Struct" if issubclass(cls, msgspec.Struct) else "class"
            raise Unsupported(
                f"{kind} {cls.__name__} is generic",
                f"declare a concrete {kind} for each use; generic types are not supported",
                self.sources.of(cls),
            )
        outer = self._aliases
        self._aliases = ()
        try:
            yield
        finally:
            self._aliases = outer

    def _newtype(self, tp: Any) -> TypeExpr:
        name = tp.__name__
        if not self._claim(name, tp):
            base = self.read(tp.__supertype__)
            self._check_newtype_base(tp, base)
            self.definitions[name] = NewTypeDef(name, base, location=self.sources.of(tp))
        return Ref(name)

    def _check_newtype_base(self, tp: Any, base: TypeExpr) -> None:
        """mypy accepts only a class as a NewType's base, and crashes on a Struct."""
        inner = base
        while isinstance(inner, Constrained):
            inner = inner.inner
        target = self.definitions.get(inner.name) if isinstance(inner, Ref) else None
        if isinstance(inner, Union | LiteralType) or inner == Builtin("None"):
            reason = f"its base {inner.spell()} is not a class"
        elif isinstance(target, StructDef):
            reason = f"mypy crashes on a NewType of the Struct {target.name}"
        elif isinstance(target, TypedDictDef):
            reason = f"mypy refuses a NewType of the TypedDict {target.name}"
        else:
            return
        raise Unsupported(
            f"NewType {tp.__name__}: {reason}, and the generated client must pass mypy --strict",
            "base the NewType on a class (int, str, list[...], a dataclass...), "
            "or use the base type itself",
            self.sources.of(tp),
        )

    def _struct(self, cls: type[msgspec.Struct]) -> TypeExpr:
        name = cls.__name__
        if self._claim(name, cls):
            return Ref(name)
        with self._class_body(cls):
            declared = _resolved(cls, lambda: msgspec.structs.fields(cls), self.sources)
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
                for f in declared
            )
        config = cls.__struct_config__
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
        members = tuple(EnumMember(key, m.value) for key, m in cls.__members__.items())
        kinds = {type(m.value) for m in members}
        if not (kinds <= {int} or (kinds <= {str} and not issubclass(cls, enum.Flag))):
            raise Unsupported(
                f"Enum {name} has {' and '.join(sorted(k.__name__ for k in kinds))} values",
                "msgspec sends an Enum by its value, so the values must be all str or all int "
                "(all int for a Flag)",
                self.sources.of(cls),
            )
        self.definitions[name] = EnumDef(
            name, _enum_kind(cls), members, location=self.sources.of(cls), doc=_doc(cls)
        )
        return Ref(name)

    def _dataclass(self, cls: type) -> TypeExpr:
        name = cls.__name__
        if self._claim(name, cls):
            return Ref(name)
        with self._class_body(cls):
            hints = _resolved(cls, lambda: _hints(cls), self.sources)
            fields = tuple(
                self._field(
                    cls,
                    f.name,
                    hints[f.name],
                    wire_name=f.name,
                    default=f.default,
                    factory=f.default_factory,
                    kw_only=bool(f.kw_only),
                    init=f.init,
                    nodefault=dataclasses.MISSING,
                )
                for f in dataclasses.fields(cls)
            )
        params = getattr(cls, "__dataclass_params__", None)
        self.definitions[name] = DataclassDef(
            name,
            fields,
            frozen=bool(getattr(params, "frozen", False)),
            order=bool(getattr(params, "order", False)),
            location=self.sources.of(cls),
            doc=_doc(cls),
        )
        return Ref(name)

    def _typeddict(self, cls: type) -> TypeExpr:
        name = cls.__name__
        if self._claim(name, cls):
            return Ref(name)
        with self._class_body(cls):
            hints = _resolved(cls, lambda: _hints(cls), self.sources)
            required = _required_keys(cls, hints)
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

    def _namedtuple(self, cls: type) -> TypeExpr:
        name = cls.__name__
        if self._claim(name, cls):
            return Ref(name)
        with self._class_body(cls):
            hints = _resolved(cls, lambda: _hints(cls), self.sources)
            if not hints:
                raise Unsupported(
                    f"namedtuple {name} does not say what its fields hold",
                    "declare it as a typing.NamedTuple with a type for each field",
                    self.sources.of(cls),
                )
            defaults: dict[str, Any] = getattr(cls, "_field_defaults", {})
            fields = tuple(
                self._field(
                    cls,
                    key,
                    hints[key],
                    wire_name=key,
                    default=defaults.get(key, msgspec.NODEFAULT),
                    factory=msgspec.NODEFAULT,
                    kw_only=False,
                )
                for key in getattr(cls, "_fields", ())
            )
        self.definitions[name] = NamedTupleDef(
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
        init: bool = True,
        nodefault: Any = msgspec.NODEFAULT,
    ) -> Field:
        try:
            spelled = (
                self.defaults.value(default)
                if default is not nodefault
                else self.defaults.factory(factory)
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
            init=init,
            line=self.sources.field_line(cls, name),
        )

    def _field_type(self, cls: type, name: str, tp: Any) -> TypeExpr:
        try:
            return self.read(tp)
        except Unsupported as exc:
            raise _at_field(exc, self.sources, cls, name) from None

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


def _enum_kind(cls: type[enum.Enum]) -> EnumKind:
    if issubclass(cls, enum.IntFlag):
        return "IntFlag"
    if issubclass(cls, enum.Flag):
        return "Flag"
    if issubclass(cls, int):
        return "IntEnum"
    return "StrEnum" if issubclass(cls, str) else "Enum"


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _resolved(cls: type, read: Callable[[], T], sources: SourceIndex) -> T:
    """Run ``read``; an annotation that does not resolve becomes a problem at the class."""
    try:
        return read()
    except (NameError, AttributeError, TypeError) as exc:
        raise Unsupported(
            f"cannot resolve the annotations of {cls.__name__}: {type(exc).__name__}: {exc}",
            "import every type its fields name into the module that declares it",
            sources.of(cls),
        ) from None


def _required_keys(cls: type, hints: dict[str, Any]) -> set[str]:
    """The keys a TypedDict requires, as msgspec reads them.

    ``__required_keys__`` misses ``Required``/``NotRequired`` written as strings (under
    ``from __future__ import annotations``), so the wrappers decide, as they do in msgspec."""
    required = set(getattr(cls, "__required_keys__", hints))
    for key, tp in hints.items():
        origin = typing.get_origin(tp)
        if origin is typing.Required:
            required.add(key)
        elif origin is typing.NotRequired:
            required.discard(key)
    return required


def _strip_required(tp: Any) -> Any:
    """TypedDict's Required[...]/NotRequired[...] wrappers say nothing about the wire type."""
    if typing.get_origin(tp) in (typing.Required, typing.NotRequired):
        return typing.get_args(tp)[0]
    return tp


def _abstract(name: str) -> Unsupported:
    return Unsupported(
        f"abstract {name} does not say which concrete type goes on the wire",
        f"use {_ABSTRACT_HINTS[name]}",
    )


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
        "TypedDict, NamedTuple, NewType, Annotated[..., msgspec.Meta(...)]"
    )


def location_of_field(sources: SourceIndex, cls: type, field: str) -> Location | None:
    """The ``file:line`` at which ``cls`` declares ``field``."""
    base = sources.of(cls)
    line = sources.field_line(cls, field)
    return Location(base.file, line) if base and line else base
