"""How each contract type is spelled in TypeScript: the model decides, never a template."""

from __future__ import annotations

import json

from taskgen_codegen.contract.model import (
    Builtin,
    Constrained,
    Container,
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

#: Python scalars in TypeScript. JavaScript has no class for a date, a time of day, a duration,
#: a UUID or a decimal: they travel as the text msgspec writes, so they are strings here too.
SCALARS = {
    "None": "null",
    "bool": "boolean",
    "int": "Int",
    "float": "number",
    "str": "string",
    "bytes": "Uint8Array",
    "bytearray": "Uint8Array",
    "datetime.datetime": "Date",
    "datetime.date": "string",
    "datetime.time": "string",
    "datetime.timedelta": "string",
    "uuid.UUID": "string",
    "decimal.Decimal": "string",
    "msgspec.UnsetType": "undefined",
}

UNSET = Builtin("msgspec.UnsetType")


def spell(expr: TypeExpr) -> str:
    """The TypeScript type of one contract type."""
    if isinstance(expr, Builtin):
        return SCALARS[expr.name]
    if isinstance(expr, Ref):
        return expr.name
    if isinstance(expr, Constrained):
        return spell(expr.inner)
    if isinstance(expr, LiteralType):
        return " | ".join(json.dumps(v) for v in expr.values)
    if isinstance(expr, Union):
        return " | ".join(spell(o) for o in expr.options if o != UNSET)
    assert isinstance(expr, Container)
    args = [spell(a) for a in expr.args]
    if expr.kind in ("list", "vartuple"):
        return f"ReadonlyArray<{args[0]}>"
    if expr.kind in ("set", "frozenset"):
        return f"ReadonlySet<{args[0]}>"
    if expr.kind == "dict":
        return f"ReadonlyMap<{args[0]}, {args[1]}>"
    return f"readonly [{', '.join(args)}]"


def optional(f: Field) -> bool:
    """A field the caller may leave out: it has a default, or may be UNSET."""
    unset = isinstance(f.type, Union) and UNSET in f.type.options
    return not f.required or unset


def property_line(f: Field) -> str:
    """``readonly name?: Type;``"""
    mark = "?" if optional(f) else ""
    return f"readonly {_key(f.name)}{mark}: {spell(f.type)};"


def _key(name: str) -> str:
    return name if name.isidentifier() else json.dumps(name)


def declaration(d: Definition) -> str:
    """The TypeScript declaration of one named definition (after its doc comment)."""
    if isinstance(d, EnumDef):
        values = list(dict.fromkeys(m.value for m in d.members))
        members = ", ".join(f"{_key(m.name)}: {json.dumps(m.value)}" for m in d.members)
        if d.kind in ("Flag", "IntFlag"):
            kind = "number"
        else:
            kind = " | ".join(json.dumps(v) for v in values)
        return f"export type {d.name} = {kind};\nexport const {d.name} = {{ {members} }} as const;"
    if isinstance(d, NewTypeDef):
        return f"export type {d.name} = {spell(d.base)};"
    if isinstance(d, NamedTupleDef):
        items = ", ".join(
            f"{f.name}{'?' if not f.required else ''}: {spell(f.type)}" for f in d.fields
        )
        return f"export type {d.name} = readonly [{items}];"
    lines = []
    if isinstance(d, StructDef) and d.tag is not None and d.tag_field is not None:
        lines.append(f"readonly {_key(d.tag_field)}: {json.dumps(d.tag)};")
    fields = d.fields if not isinstance(d, DataclassDef) else [f for f in d.fields if f.init]
    lines += [property_line(f) for f in fields]
    assert isinstance(d, StructDef | DataclassDef | TypedDictDef)
    body = "".join(f"\n  {line}" for line in lines)
    return f"export interface {d.name} {{{body}\n}}"
