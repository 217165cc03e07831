"""Where a finding of ``taskgen check`` points: a contract source line, or a lock file line."""

from __future__ import annotations

import json

from taskgen_codegen.check.compat import Anchor, Finding
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


def lock_locations(text: str, file: str) -> Locations:
    """Anchors of a lock file written by ``encode_lock``, at the lines that spell them."""
    table: Locations = {}
    section = ""
    owner = ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if line.startswith('  "') and line.rstrip().endswith("{"):
            section = json.loads(stripped.partition(":")[0])
        elif line.startswith('    "') and stripped.endswith("{"):
            owner = json.loads(stripped.partition(":")[0])
            table["task" if section == "tasks" else "type", owner] = Location(file, number)
        elif stripped.startswith('{"name": '):
            name = json.loads(stripped.rstrip(",")).get("name")
            kind = "param" if section == "tasks" else "field"
            table[kind, owner, name] = Location(file, number)
    return table


def locate(finding: Finding, table: Locations) -> Location | None:
    """The finding's own line, else that of what encloses it (a parameter's task...)."""
    anchor = finding.anchor
    if anchor in table:
        return table[anchor]
    enclosing: Anchor = ("task" if anchor[0] == "param" else "type", anchor[1])
    return table.get(enclosing)
