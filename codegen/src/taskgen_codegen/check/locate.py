"""Where a finding of ``taskgen check`` points: a contract source line, or a lock file line."""

from __future__ import annotations

from taskgen_codegen.check.compat import Anchor, Finding
from taskgen_codegen.check.json_lines import value_lines
from taskgen_codegen.check.lock import Lock
from taskgen_codegen.contract.errors import Location
from taskgen_codegen.contract.model import ContractModel, EnumDef, NewTypeDef

Locations = dict[Anchor, Location]


def model_locations(model: ContractModel) -> Locations:
    """Anchors of a loaded contract, at the lines that declare them."""
    table: Locations = {}
    for task in model.tasks:
        if task.location is not None:
            table["task", task.wire_name] = task.location
    for definition in model.definitions:
        if definition.location is None:
            continue
        table["type", definition.name] = definition.location
        if isinstance(definition, EnumDef | NewTypeDef):
            continue
        for field in definition.fields:
            if field.line is not None:
                table["field", definition.name, field.name] = Location(
                    definition.location.file, field.line
                )
    return table


def lock_locations(lock: Lock, text: str, file: str) -> Locations:
    """Anchors of a lock file read from ``text``: the lines on which its entries start."""
    lines = value_lines(text, depth=len(("tasks", "<wire>", "params", 0)))
    table: Locations = {}
    for wire, task in lock.tasks.items():
        table["task", wire] = Location(file, lines["tasks", wire])
        for index, param in enumerate(task.params):
            table["param", wire, param.name] = Location(file, lines["tasks", wire, "params", index])
    for name, kind in lock.types.items():
        table["type", name] = Location(file, lines["types", name])
        for index, field in enumerate(kind.fields):
            table["field", name, field.name] = Location(file, lines["types", name, "fields", index])
    return table


def locate(finding: Finding, table: Locations) -> Location | None:
    """The finding's own line, else that of what encloses it (a parameter's task...)."""
    anchor = finding.anchor
    if anchor in table:
        return table[anchor]
    enclosing: Anchor = ("task" if anchor[0] == "param" else "type", anchor[1])
    return table.get(enclosing)
