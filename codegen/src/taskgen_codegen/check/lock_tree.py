"""How the lock file writes a type: a tree of JSON objects, each with a ``kind``.

``{"kind": "int"}`` and the other scalars by their Python name (``"datetime.datetime"``);
``{"kind": "ref", "name": "Invoice"}`` for a named type (written out in the lock's ``types``);
``{"kind": "list", "of": ...}`` (also ``set``, ``frozenset``, and ``tuple`` for ``tuple[X, ...]``);
``{"kind": "tuple", "items": [...]}``; ``{"kind": "dict", "keys": ..., "values": ...}``;
``{"kind": "union", "options": [...]}``; ``{"kind": "literal", "values": [...]}``. A node with
``msgspec.Meta`` constraints carries them as ``"meta": {"ge": 0}``; a constrained type constrained
again is ``{"kind": "annotated", "of": ..., "meta": ...}``. Reading a node back checks its shape,
so a hand-edited lock fails with the place of the bad node, not deep inside ``taskgen check``.
"""

from __future__ import annotations

from collections.abc import Collection

import msgspec

from taskgen.errors import TaskgenError
from taskgen_codegen.check.json_lines import JsonPath
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

TypeNode = dict[str, object]

#: The collections of one item type, by their kind in the lock.
_COLLECTIONS: dict[str, ContainerKind] = {"list": "list", "set": "set", "frozenset": "frozenset"}

#: The keys each kind of node has besides ``kind`` (and ``meta``, which every kind may have).
_KEYS: dict[str, frozenset[str]] = {
    **{name: frozenset() for name in BUILTINS},
    "ref": frozenset({"name"}),
    **{name: frozenset({"of"}) for name in _COLLECTIONS},
    "dict": frozenset({"keys", "values"}),
    "union": frozenset({"options"}),
    "literal": frozenset({"values"}),
    "annotated": frozenset({"of"}),
}
_TUPLE_KEYS = (frozenset({"of"}), frozenset({"items"}))


class NodeError(TaskgenError):
    """A node that is not a type the lock can hold: where it is, and what is wrong with it."""

    def __init__(self, path: JsonPath, problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem


def type_node(expr: TypeExpr) -> TypeNode:
    """The lock's tree for a type expression of the contract model."""
    if isinstance(expr, Builtin):
        return {"kind": expr.name}
    if isinstance(expr, Ref):
        return {"kind": "ref", "name": expr.name}
    if isinstance(expr, Union):
        return {"kind": "union", "options": [type_node(o) for o in expr.options]}
    if isinstance(expr, LiteralType):
        return {"kind": "literal", "values": list(expr.values)}
    if isinstance(expr, Constrained):
        inner = type_node(expr.inner)
        meta = msgspec.to_builtins(expr.meta)
        return (
            {"kind": "annotated", "of": inner, "meta": meta}
            if "meta" in inner
            else {**inner, "meta": meta}
        )
    if expr.kind in _COLLECTIONS:
        return {"kind": expr.kind, "of": type_node(expr.args[0])}
    if expr.kind == "dict":
        return {"kind": "dict", "keys": type_node(expr.args[0]), "values": type_node(expr.args[1])}
    if expr.kind == "vartuple":
        return {"kind": "tuple", "of": type_node(expr.args[0])}
    return {"kind": "tuple", "items": [type_node(a) for a in expr.args]}


def type_of(node: object, path: JsonPath, names: Collection[str]) -> TypeExpr:
    """The type expression a lock node holds; ``names`` are the named types the lock defines.

    Raises ``NodeError`` for a node of the wrong shape or a reference to an unknown type."""
    return _Reader(names).read(node, path)


class _Reader:
    def __init__(self, names: Collection[str]) -> None:
        self.names = names

    def read(self, node: object, path: JsonPath) -> TypeExpr:
        if not isinstance(node, dict) or not isinstance(node.get("kind"), str):
            raise NodeError(path, 'a type must be an object with a "kind", like {"kind": "int"}')
        kind: str = node["kind"]
        keys = node.keys() - {"kind", "meta"}
        if kind == "tuple":
            if keys not in _TUPLE_KEYS:
                raise NodeError(path, 'a tuple type has either "of" (tuple[X, ...]) or "items"')
        elif kind not in _KEYS:
            kinds = ", ".join([*_KEYS, "tuple"])
            raise NodeError((*path, "kind"), f"unknown type kind {kind!r}; the kinds are {kinds}")
        elif keys != _KEYS[kind]:
            wanted = ", ".join(f'"{k}"' for k in sorted(_KEYS[kind])) or "no other keys"
            got = ", ".join(f'"{k}"' for k in sorted(keys)) or "none"
            raise NodeError(path, f"a {kind} type has {wanted}; this one has {got}")
        expr = self.shape(kind, node, path)
        if "meta" not in node:
            return expr
        return Constrained(expr, _constraints(node["meta"], (*path, "meta")))

    def shape(self, kind: str, node: dict[str, object], path: JsonPath) -> TypeExpr:
        """The node without its ``meta``."""
        if kind in BUILTINS:
            return Builtin(kind)
        if kind == "ref":
            name = node["name"]
            if not isinstance(name, str) or name not in self.names:
                raise NodeError((*path, "name"), f'{name!r} is not a type of the lock\'s "types"')
            return Ref(name)
        if kind in _COLLECTIONS:
            return Container(_COLLECTIONS[kind], (self.read(node["of"], (*path, "of")),))
        if kind == "dict":
            keys = self.read(node["keys"], (*path, "keys"))
            return Container("dict", (keys, self.read(node["values"], (*path, "values"))))
        if kind == "tuple" and "of" in node:
            return Container("vartuple", (self.read(node["of"], (*path, "of")),))
        if kind == "tuple":
            return Container("tuple", self.items(node, "items", path))
        if kind == "union":
            return Union(self.items(node, "options", path))
        if kind == "literal":
            return LiteralType(_literal_values(node["values"], (*path, "values")))
        assert kind == "annotated"
        return self.read(node["of"], (*path, "of"))

    def items(self, node: dict[str, object], key: str, path: JsonPath) -> tuple[TypeExpr, ...]:
        items = node[key]
        if not isinstance(items, list):
            raise NodeError((*path, key), f'"{key}" must be a list of types')
        return tuple(self.read(item, (*path, key, i)) for i, item in enumerate(items))


def _literal_values(values: object, path: JsonPath) -> tuple[str | int | bool | None, ...]:
    if not isinstance(values, list) or not all(
        v is None or isinstance(v, str | int) for v in values
    ):
        raise NodeError(path, "a literal's values are a list of strings, integers, booleans, null")
    return tuple(values)


def _constraints(meta: object, path: JsonPath) -> Constraints:
    known = set(Constraints.__struct_fields__)
    unknown = sorted(meta.keys() - known) if isinstance(meta, dict) else []
    if unknown:
        raise NodeError(path, f"{unknown[0]!r} is not a msgspec.Meta constraint")
    try:
        return msgspec.convert(meta, type=Constraints)
    except msgspec.ValidationError as exc:
        raise NodeError(path, f"not msgspec.Meta constraints: {exc}") from None
