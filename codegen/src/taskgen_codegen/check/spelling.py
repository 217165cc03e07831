"""Reading a type back from the way the lock file spells it (``list[Money] | None``)."""

from __future__ import annotations

import ast

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
)

_CONTAINERS: dict[str, ContainerKind] = {
    "list": "list",
    "set": "set",
    "frozenset": "frozenset",
    "dict": "dict",
    "tuple": "tuple",
}


def parse_type(spelled: str) -> TypeExpr:
    """The type expression that ``TypeExpr.spell()`` wrote as ``spelled``."""
    try:
        node = ast.parse(spelled, mode="eval").body
        return _read(node)
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"cannot read the type {spelled!r}: {exc}") from None


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
