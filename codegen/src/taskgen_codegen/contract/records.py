"""Reading the named types a contract declares (Structs, Enums, dataclasses, TypedDicts,
NamedTuples, NewTypes) into definitions of the contract model."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import msgspec

from taskgen_codegen.contract.defaults import DefaultSpeller
from taskgen_codegen.contract.errors import Location, Unsupported
from taskgen_codegen.contract.model import (
    Builtin,
    Constrained,
    DataclassDef,
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

T = TypeVar("T")


class DefinitionReader:
    """Reads named types into ``definitions``, each name claimed by one type only.

    ``TypeReader`` supplies ``read``, which a definition's fields go through."""

    sources: SourceIndex
    definitions: dict[str, Definition]
    defaults: DefaultSpeller
    _owners: dict[str, Any]
    #: ``type`` aliases being read, outermost first, since the last class began.
    _aliases: tuple[Any, ...]

    def read(self, tp: Any) -> TypeExpr:
        """The model of one annotation (``TypeReader`` implements it)."""
        raise NotImplementedError

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
                    declared_in=_owner(self.sources, cls, key),
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
            declared_in=_owner(self.sources, cls, name),
        )

    def _field_type(self, cls: type, name: str, tp: Any) -> TypeExpr:
        try:
            return self.read(tp)
        except Unsupported as exc:
            raise _at_field(exc, self.sources, cls, name) from None


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


def location_of_field(sources: SourceIndex, cls: type, field: str) -> Location | None:
    """The ``file:line`` at which ``cls`` declares ``field``."""
    base = sources.of(cls)
    line = sources.field_line(cls, field)
    return Location(base.file, line) if base and line else base


def _owner(sources: SourceIndex, cls: type, field: str) -> str | None:
    owner = sources.field_owner(cls, field)
    return owner.__name__ if owner is not None else None
