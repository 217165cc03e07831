"""Schema fingerprints: a short hash of everything that decides a task's wire format."""

from __future__ import annotations

import hashlib

import msgspec

from taskgen_codegen.contract.model import (
    DataclassDef,
    Definition,
    NamedTupleDef,
    Param,
    StructDef,
    TaskSpec,
    TypedDictDef,
    TypeExpr,
    definition_refs,
    refs_of,
)


def reachable(roots: set[str], definitions: dict[str, Definition]) -> list[Definition]:
    """Every definition reachable from ``roots``, sorted by name."""
    seen: set[str] = set()
    todo = sorted(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(definition_refs(definitions[name]) - seen)
    return [definitions[n] for n in sorted(seen)]


def task_roots(
    params: tuple[Param, ...], returns: TypeExpr, progress: TypeExpr | None = None
) -> set[str]:
    """The definitions a task's signature (and progress type) names directly."""
    roots = set().union(refs_of(returns), *(refs_of(p.type) for p in params))
    return roots | refs_of(progress) if progress is not None else roots


def fingerprint(task: TaskSpec, definitions: dict[str, Definition]) -> str:
    """Sixteen hex digits that change whenever the task's wire schema changes."""
    defs = reachable(task_roots(task.params, task.returns, task.progress), definitions)
    schema = {
        "name": task.wire_name,
        "params": task.params,
        "returns": task.returns,
        "definitions": [_wire_view(d) for d in defs],
    }
    if task.progress is not None:  # absent otherwise, so other tasks keep their fingerprints
        schema["progress"] = task.progress
    digest = hashlib.sha256(msgspec.json.encode(schema, order="sorted"))
    return digest.hexdigest()[:16]


def _wire_view(definition: Definition) -> object:
    """A definition without what does not reach the wire: where it is written (its location,
    its fields' lines and declaring bases) and its doc."""
    stripped = msgspec.structs.replace(definition, location=None, doc=None)
    if isinstance(stripped, StructDef | DataclassDef | TypedDictDef | NamedTupleDef):
        fields = tuple(msgspec.structs.replace(f, line=None) for f in stripped.fields)
        stripped = msgspec.structs.replace(stripped, fields=fields)
    view = msgspec.to_builtins(stripped)
    for field in view.get("fields", ()):
        field.pop("declared_in", None)
    return view
