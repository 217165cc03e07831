"""Reading a lock of format version 1, which spelled each type as Python (``list[Money] | None``).

Only the types differ from the current format, so a lock written by the previous taskgen is read
as it is: ``taskgen check`` keeps its baseline, and the next ``taskgen build`` rewrites it.
"""

from __future__ import annotations

import ast
from collections.abc import Collection

from taskgen_codegen.check.json_lines import JsonPath
from taskgen_codegen.check.lock_tree import NodeError
from taskgen_codegen.contract.model import (
    BUILTINS,
    Builtin,
    Constrained,
    Constraints,
    Container,
    ContainerKind,
    LiteralType,
    Ref,
    TypeExpr,
    Union,
    refs_of,
)
from taskgen_codegen.syntax import parse_expression

_CONTAINERS: dict[str, ContainerKind] = {
    "list": "list",
    "set": "set",
    "frozenset": "frozenset",
    "dict": "dict",
    "tuple": "tuple",
}


def read_spelled(spelled: object, path: JsonPath, names: Collection[str]) -> TypeExpr:
    """The type expression that ``TypeExpr.spell()`` wrote as ``spelled``; ``names`` are the
    named types the lock defines. Raises ``NodeError`` for what is no such spelling."""
    if not isinstance(spelled, str):
        raise NodeError(path, 'a type of a version 1 lock is a string, like "list[int]"')
    try:
        expr = _read(parse_expression(spelled).body)
    except (SyntaxError, ValueError, TypeError) as exc:
        raise NodeError(path, f"cannot read the type {spelled!r}: {exc}") from None
    unknown = sorted(refs_of(expr) - set(names))
    if unknown:
        raise NodeError(path, f'{unknown[0]!r} is not a type of the lock\'s "types"')
    return expr


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    raise ValueError(f"unexpected {ast.dump(node)}")


def _read(node: ast.expr) -> TypeExpr:
    if isinstance(node, ast.Constant) and node.value is None:
        return Builtin("None")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _read(node.left), _read(node.right)
        options = (*_options(left), *_options(right))
        return Union(options)
    if isinstance(node, ast.Subscript):
        return _subscript(_dotted(node.value), node.slice)
    name = _dotted(node)
    return Builtin(name) if name in BUILTINS else Ref(name)


def _options(expr: TypeExpr) -> tuple[TypeExpr, ...]:
    return expr.options if isinstance(expr, Union) else (expr,)


def _subscript(origin: str, index: ast.expr) -> TypeExpr:
    args = list(index.elts) if isinstance(index, ast.Tuple) else [index]
    if origin == "typing.Literal":
        return LiteralType(tuple(ast.literal_eval(a) for a in args))
    if origin == "typing.Annotated":
        call = args[1]
        if not isinstance(call, ast.Call):
            raise ValueError("Annotated without msgspec.Meta(...)")
        meta = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
        return Constrained(_read(args[0]), Constraints(**meta))
    if origin not in _CONTAINERS:
        raise ValueError(f"unknown generic {origin}")
    if origin == "tuple":
        if isinstance(index, ast.Tuple) and not index.elts:
            return Container("tuple", ())
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is ...:
            return Container("vartuple", (_read(args[0]),))
    return Container(_CONTAINERS[origin], tuple(_read(a) for a in args))
