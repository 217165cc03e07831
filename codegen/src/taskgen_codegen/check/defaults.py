"""Defaults as values: what a default spelled in a lock is on the wire."""

from __future__ import annotations

import ast

from taskgen_codegen.check.lock import Lock
from taskgen_codegen.syntax import parse_expression


def wire_default(default: str, lock: Lock) -> str:
    """A default as its value: each Enum member it names (``Color.RED``) replaced by the
    member's value, so that renaming a member or its Enum does not read as a new default."""
    try:
        tree = parse_expression(default)
    except SyntaxError:
        return default
    return ast.unparse(_EnumValues(lock).visit(tree))


class _EnumValues(ast.NodeTransformer):
    """Replaces ``Enum.MEMBER`` (an Enum of ``lock``) with the member's value."""

    def __init__(self, lock: Lock) -> None:
        self.lock = lock

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name):
            kind = self.lock.types.get(node.value.id)
            if kind is not None and kind.is_enum and node.attr in kind.members:
                return ast.Constant(kind.members[node.attr])
        return self.generic_visit(node)
