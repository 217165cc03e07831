"""The intermediate model of a contract: tasks, their parameters, and the types they reach.

Every node is a msgspec Struct, so the model can be hashed (fingerprints), written to the lock
file, and read back for comparison. Each type knows how to spell itself in Python source; the
templates never decide a spelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, TypeAlias

import msgspec

from taskgen.vocabulary import ParamKind as ParamKind  # re-exported for the model's users
from taskgen.vocabulary import TaskOptions
from taskgen_codegen.contract.errors import Location

#: Builtin and standard-library scalar types, keyed by their spelling in generated code.
BUILTINS: dict[str, str | None] = {
    # spelling -> the module to import for it (None: a builtin)
    "None": None,
    "bool": None,
    "int": None,
    "float": None,
    "str": None,
    "bytes": None,
    "bytearray": None,
    "datetime.datetime": "datetime",
    "datetime.date": "datetime",
    "datetime.time": "datetime",
    "datetime.timedelta": "datetime",
    "uuid.UUID": "uuid",
    "decimal.Decimal": "decimal",
    "msgspec.UnsetType": "msgspec",
}

#: How a generated file names the modules it imports: ``{"uuid": "_uuid"}`` where a class body
#: declares a field called ``uuid``, which would otherwise hide the module from later fields.
ModuleNames: TypeAlias = Mapping[str, str]

#: Every module under its own name.
OWN_NAMES: ModuleNames = MappingProxyType({})

LiteralValue: TypeAlias = str | int | bool | None


def literal(value: object) -> str:
    """A Python literal for a str, bytes, number, bool or None, quoted the way ruff quotes it:
    double quotes unless that would need more escapes than single quotes."""
    if isinstance(value, str | bytes):
        text = repr(value)
        prefix = "b" if isinstance(value, bytes) else ""
        body = text[len(prefix) + 1 : -1]
        doubles, singles = body.count('"'), body.count("'")
        quote = text[len(prefix)]
        body = body.replace("\\" + quote, quote)
        if doubles > singles:
            return prefix + "'" + body.replace("'", "\\'") + "'"
        return prefix + '"' + body.replace('"', '\\"') + '"'
    return repr(value)


def qualified(module: str, name: str, modules: ModuleNames = OWN_NAMES) -> str:
    """``module.name``, with the module under the name the generated file imports it as."""
    return f"{modules.get(module, module)}.{name}"


class Builtin(msgspec.Struct, frozen=True, tag="builtin"):
    """A scalar type: ``int``, ``str``, ``datetime.datetime``…"""

    name: str

    def spell(self, modules: ModuleNames = OWN_NAMES) -> str:
        module = BUILTINS[self.name]
        return qualified(module, self.name[len(module) + 1 :], modules) if module else self.name

    def imports(self) -> set[str]:
        module = BUILTINS[self.name]
        return {module} if module else set()


class Ref(msgspec.Struct, frozen=True, tag="ref"):
    """A reference to a named definition (Struct, Enum, NewType, TypedDict, dataclass…)."""

    name: str

    def spell(self, modules: ModuleNames = OWN_NAMES) -> str:
        return self.name

    def imports(self) -> set[str]:
        return set()


ContainerKind = Literal["list", "set", "frozenset", "dict", "tuple", "vartuple"]


class Container(msgspec.Struct, frozen=True, tag="container"):
    """A generic collection: list, set, frozenset, dict, fixed or variadic tuple."""

    kind: ContainerKind
    args: tuple[TypeExpr, ...]

    def spell(self, modules: ModuleNames = OWN_NAMES) -> str:
        if self.kind == "vartuple":
            return f"tuple[{self.args[0].spell(modules)}, ...]"
        if self.kind == "tuple" and not self.args:
            return "tuple[()]"
        return f"{self.kind}[{', '.join(a.spell(modules) for a in self.args)}]"

    def imports(self) -> set[str]:
        return set().union(*(a.imports() for a in self.args))


class Union(msgspec.Struct, frozen=True, tag="union"):
    """``A | B | None``; options keep their source order, which msgspec's decoding ignores."""

    options: tuple[TypeExpr, ...]

    def spell(self, modules: ModuleNames = OWN_NAMES) -> str:
        return " | ".join(o.spell(modules) for o in self.options)

    def imports(self) -> set[str]:
        return set().union(*(o.imports() for o in self.options))


class LiteralType(msgspec.Struct, frozen=True, tag="literal"):
    """``Literal["a", "b"]``."""

    values: tuple[LiteralValue, ...]

    def spell(self, modules: ModuleNames = OWN_NAMES) -> str:
        values = ", ".join(literal(v) for v in self.values)
        return f"{qualified('typing', 'Literal', modules)}[{values}]"

    def imports(self) -> set[str]:
        return {"typing"}


class Constraints(msgspec.Struct, frozen=True, omit_defaults=True):
    """The ``msgspec.Meta`` constraints and descriptions on an ``Annotated`` type."""

    gt: int | float | None = None
    ge: int | float | None = None
    lt: int | float | None = None
    le: int | float | None = None
    multiple_of: int | float | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    tz: bool | None = None
    title: str | None = None
    description: str | None = None

    def spell(self, modules: ModuleNames = OWN_NAMES) -> str:
        items = (
            f"{name}={literal(value)}"
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not None
        )
        return f"{qualified('msgspec', 'Meta', modules)}({', '.join(items)})"


class Constrained(msgspec.Struct, frozen=True, tag="constrained"):
    """``Annotated[T, msgspec.Meta(...)]``."""

    inner: TypeExpr
    meta: Constraints

    def spell(self, modules: ModuleNames = OWN_NAMES) -> str:
        annotated = qualified("typing", "Annotated", modules)
        return f"{annotated}[{self.inner.spell(modules)}, {self.meta.spell(modules)}]"

    def imports(self) -> set[str]:
        return self.inner.imports() | {"typing", "msgspec"}


TypeExpr: TypeAlias = Builtin | Ref | Container | Union | LiteralType | Constrained


class Default(msgspec.Struct, frozen=True):
    """A default: a value spelled in Python source, or a zero-argument factory."""

    kind: Literal["value", "factory"]
    #: The source split at the modules it names: text, module, text, module, …, text; so a
    #: file that imports ``datetime`` under another name can still spell it.
    parts: tuple[str, ...]
    #: Definitions the spelling names (an Enum member, a Struct factory or instance).
    refs: tuple[str, ...] = ()

    @property
    def modules(self) -> set[str]:
        """The modules the spelling needs (``datetime``, ``uuid``, ``msgspec``…)."""
        return set(self.parts[1::2])

    def spell(self, modules: ModuleNames = OWN_NAMES) -> str:
        return "".join(
            modules.get(part, part) if i % 2 else part for i, part in enumerate(self.parts)
        )


class Field(msgspec.Struct, frozen=True):
    """One field of a Struct, dataclass or TypedDict."""

    name: str
    type: TypeExpr
    wire_name: str
    default: Default | None = None
    kw_only: bool = False
    required: bool = True
    #: False for a dataclass field left out of ``__init__``.
    init: bool = True
    line: int | None = None
    #: The base class that declares an inherited field (where ``line`` is).
    declared_in: str | None = None


class StructDef(msgspec.Struct, frozen=True, tag="struct"):
    """A ``msgspec.Struct`` with its wire-relevant options."""

    name: str
    fields: tuple[Field, ...]
    frozen: bool = False
    order: bool = False
    eq: bool = True
    array_like: bool = False
    forbid_unknown_fields: bool = False
    omit_defaults: bool = False
    tag: str | int | None = None
    tag_field: str | None = None
    location: Location | None = None
    doc: str | None = None

    def options(self) -> list[str]:
        """The class keywords that reproduce this Struct's configuration."""
        opts: list[str] = []
        for flag in ("frozen", "order", "array_like", "forbid_unknown_fields", "omit_defaults"):
            if getattr(self, flag):
                opts.append(f"{flag}=True")
        if not self.eq:
            opts.append("eq=False")
        if self.tag is not None:
            opts.append(f"tag={literal(self.tag)}")
            opts.append(f"tag_field={literal(self.tag_field)}")
        return opts


class EnumMember(msgspec.Struct, frozen=True):
    """One member of an Enum."""

    name: str
    value: str | int


EnumKind = Literal["Enum", "IntEnum", "StrEnum", "Flag", "IntFlag"]


class EnumDef(msgspec.Struct, frozen=True, tag="enum"):
    """An ``enum.Enum``, ``IntEnum``, ``StrEnum``, ``Flag`` or ``IntFlag`` (sent by value)."""

    name: str
    kind: EnumKind
    members: tuple[EnumMember, ...]
    location: Location | None = None
    doc: str | None = None


class NewTypeDef(msgspec.Struct, frozen=True, tag="newtype"):
    """``typing.NewType(name, base)``; the base may carry ``msgspec.Meta`` constraints."""

    name: str
    base: TypeExpr
    location: Location | None = None
    doc: str | None = None


class TypedDictDef(msgspec.Struct, frozen=True, tag="typeddict"):
    """A ``TypedDict``."""

    name: str
    fields: tuple[Field, ...]
    location: Location | None = None
    doc: str | None = None


class DataclassDef(msgspec.Struct, frozen=True, tag="dataclass"):
    """A ``dataclasses.dataclass``."""

    name: str
    fields: tuple[Field, ...]
    frozen: bool = False
    order: bool = False
    location: Location | None = None
    doc: str | None = None


class NamedTupleDef(msgspec.Struct, frozen=True, tag="namedtuple"):
    """A ``typing.NamedTuple`` (sent as an array)."""

    name: str
    fields: tuple[Field, ...]
    location: Location | None = None
    doc: str | None = None


Definition: TypeAlias = (
    StructDef | EnumDef | NewTypeDef | TypedDictDef | DataclassDef | NamedTupleDef
)


class Param(msgspec.Struct, frozen=True):
    """One parameter of a task."""

    name: str
    kind: ParamKind
    type: TypeExpr
    default: Default | None = None


class TaskSpec(msgspec.Struct, frozen=True):
    """One declared task: its identity on the wire, its signature and its options."""

    name: str
    module: str
    wire_name: str
    params: tuple[Param, ...]
    returns: TypeExpr
    options: TaskOptions
    fingerprint: str = ""
    location: Location | None = None
    doc: str | None = None
    #: The type of the handler's progress reports (``@task(progress=...)``); None: a number.
    progress: TypeExpr | None = None


class ContractModel(msgspec.Struct, frozen=True):
    """Everything a contracts folder declares, in a deterministic order."""

    package: str
    tasks: tuple[TaskSpec, ...]
    definitions: tuple[Definition, ...]

    def modules(self) -> list[str]:
        """The contract modules that declare at least one task, sorted."""
        return sorted({t.module for t in self.tasks})

    def tasks_of(self, module: str) -> list[TaskSpec]:
        """The tasks declared in one contract module, in name order."""
        return [t for t in self.tasks if t.module == module]

    def definition(self, name: str) -> Definition:
        """The named definition; a Ref always resolves."""
        for d in self.definitions:
            if d.name == name:
                return d
        raise KeyError(name)


def refs_of(expr: TypeExpr) -> set[str]:
    """The names of every definition an expression refers to directly."""
    if isinstance(expr, Ref):
        return {expr.name}
    if isinstance(expr, Container):
        return set().union(*(refs_of(a) for a in expr.args))
    if isinstance(expr, Union):
        return set().union(*(refs_of(o) for o in expr.options))
    if isinstance(expr, Constrained):
        return refs_of(expr.inner)
    return set()


def definition_refs(definition: Definition) -> set[str]:
    """The names a definition refers to through its field or base types."""
    if isinstance(definition, EnumDef):
        return set()
    if isinstance(definition, NewTypeDef):
        return refs_of(definition.base)
    return set().union(*(refs_of(f.type) for f in definition.fields))
