"""Flow-control keys (``concurrency=``, ``rate=``, ``unique=``, ``fair=``) resolved against a task's
parameter types: a dotted path must name a parameter, then fields of Structs, dataclasses,
TypedDicts or NamedTuples, and end on a value that makes a key (str, int, UUID, an Enum or a
Literal, or a NewType or constraint of one). The resolved path becomes the expression that
generated code evaluates over the task's arguments Struct, so nothing is evaluated from a
string at run time.
"""

from __future__ import annotations

from taskgen.errors import TaskgenError
from taskgen.vocabulary import TaskOptions
from taskgen_codegen.contract.model import (
    Builtin,
    Constrained,
    DataclassDef,
    Definition,
    EnumDef,
    FlowKey,
    FlowOption,
    LiteralType,
    NamedTupleDef,
    NewTypeDef,
    Param,
    Ref,
    StructDef,
    TypedDictDef,
    TypeExpr,
)

#: Scalars a key may be (spelled as ``Builtin`` names): text as it is, the rest through ``str``.
KEY_SCALARS = frozenset({"str", "int", "uuid.UUID"})


class KeyProblem(TaskgenError):
    """Why a key path does not resolve; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def declared_keys(options: TaskOptions) -> list[tuple[FlowOption, str]]:
    """The (option, key path) pairs a task declares, in a fixed order."""
    keys: list[tuple[FlowOption, str]] = []
    if options.concurrency is not None:
        keys.append(("concurrency", options.concurrency.key))
    if options.rate is not None:
        keys.append(("rate", options.rate.key))
    if options.unique is not None:
        keys.append(("unique", options.unique.key))
    if options.fair is not None:
        keys.append(("fair", options.fair.key))
    return keys


def resolve_key(
    option: FlowOption, path: str, params: tuple[Param, ...], definitions: dict[str, Definition]
) -> FlowKey:
    """The key ``path`` resolved over ``params``; ``KeyProblem`` saying where it fails."""
    segments = path.split(".")
    if not path or not all(s.isidentifier() for s in segments):
        raise KeyProblem(
            f"{option} key {path!r} is not a dotted path of names",
            'name a parameter and, for a Struct, its fields: key="invoice.customer_id"',
        )
    by_name = {p.name: p for p in params}
    first = by_name.get(segments[0])
    if first is None:
        names = ", ".join(by_name) or "none"
        raise KeyProblem(
            f"{option} key {path!r}: the task has no parameter {segments[0]!r} (it has: {names})",
            "name one of the task's parameters first",
        )
    expression, expr = f"args.{segments[0]}", first.type
    for at, name in enumerate(segments[1:], start=1):
        definition = _fields_of(expr, definitions)
        where = ".".join(segments[:at])
        if definition is None:
            raise KeyProblem(
                f"{option} key {path!r}: {where} is {expr.spell()}, which has no fields",
                "a key path goes through Structs, dataclasses, TypedDicts or NamedTuples",
            )
        field = next((f for f in definition.fields if f.name == name), None)
        if field is None:
            names = ", ".join(f.name for f in definition.fields)
            raise KeyProblem(
                f"{option} key {path!r}: {definition.name} has no field {name!r} (it has: {names})",
                f"name a field of {definition.name}",
            )
        if isinstance(definition, TypedDictDef):
            expression += f"[{name!r}]"
        else:
            expression += f".{name}"
        expr = field.type
    return FlowKey(option, path, _as_text(option, path, expression, expr, definitions))


def _fields_of(
    expr: TypeExpr, definitions: dict[str, Definition]
) -> StructDef | DataclassDef | TypedDictDef | NamedTupleDef | None:
    while isinstance(expr, Ref):
        definition = definitions.get(expr.name)
        if isinstance(definition, NewTypeDef):
            expr = definition.base
            continue
        if isinstance(definition, StructDef | DataclassDef | TypedDictDef | NamedTupleDef):
            return definition
        return None
    return None


def _as_text(
    option: FlowOption,
    path: str,
    expression: str,
    expr: TypeExpr,
    definitions: dict[str, Definition],
) -> str:
    """``expression`` turned into the key's text, if its type ``expr`` makes a key."""
    inner = expr
    while True:
        if isinstance(inner, Constrained):
            inner = inner.inner
        elif isinstance(inner, Ref) and isinstance(definitions.get(inner.name), NewTypeDef):
            base = definitions[inner.name]
            assert isinstance(base, NewTypeDef)
            inner = base.base
        else:
            break
    if isinstance(inner, Builtin) and inner.name in KEY_SCALARS:
        return expression if inner.name == "str" else f"str({expression})"
    if isinstance(inner, Ref) and isinstance(definitions.get(inner.name), EnumDef):
        return f"str({expression}.value)"
    if isinstance(inner, LiteralType) and all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in inner.values
    ):
        return f"str({expression})"
    raise KeyProblem(
        f"{option} key {path!r} is {expr.spell()}: a key must be a str, int, UUID, Enum or "
        "Literal (not optional)",
        "key on a field of one of those types, e.g. an id",
    )
