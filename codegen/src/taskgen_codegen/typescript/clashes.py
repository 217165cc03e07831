"""What the TypeScript package cannot hold, checked before anything is written: names it
would declare twice, and tasks whose flow control it does not enforce.

The Python client's checks (``generate.clashes``) hold here too, since the names come from the
same contract; TypeScript adds its own: the global types the generated code spells (a Struct
called ``Map`` would hide JavaScript's Map), the names it declares beside the contract's types
(``<Task>Args``, ``<Module>Tasks``, ``DEFINITIONS``…), and the client's own members.
"""

from __future__ import annotations

from taskgen_codegen.contract import ContractError, ContractModel, Problem
from taskgen_codegen.generate.config import BuildConfig
from taskgen_codegen.generate.names import attribute, constant, pascal

#: Global types and the runtime names the generated files use.
GLOBALS = frozenset(
    {
        "Array",
        "Date",
        "Error",
        "Map",
        "Object",
        "Promise",
        "ReadonlyArray",
        "ReadonlyMap",
        "ReadonlySet",
        "Record",
        "Set",
        "Uint8Array",
        "Int",
        "Client",
        "ClientOptions",
        "Definitions",
        "TaskDef",
        "TaskMethod",
        "taskMethod",
        "DEFINITIONS",
    }
)

#: Members of the generated client class: a contract module may not take them.
CLIENT_MEMBERS = frozenset({"client", "close", "fromUrl", "constructor"})


def check_typescript_names(model: ContractModel, config: BuildConfig) -> None:
    """Raise ``ContractError`` listing every name the TypeScript package would declare twice."""
    owners: dict[str, list[str]] = {name: ["the generated TypeScript itself"] for name in GLOBALS}
    owners.setdefault(config.client_class_name, []).append("the client class")
    for d in model.definitions:
        owners.setdefault(d.name, []).append(f"type {d.name}")
    for module in model.modules():
        owners.setdefault(pascal(module, "tasks"), []).append(f"the class of module {module}")
    for task in model.tasks:
        for name in (
            pascal(task.module, task.name, "args"),
            pascal(task.module, task.name, "result"),
            constant(task.module, task.name),
        ):
            owners.setdefault(name, []).append(f"task {task.wire_name}")
    problems = [
        Problem(
            f"the TypeScript client would declare {name} for {' and for '.join(who)}",
            hint="rename one of them in the contract (or set client-class)",
        )
        for name, who in sorted(owners.items())
        if len(who) > 1
    ]
    problems += [
        Problem(
            f"module {module}: its TypeScript client member would be {attribute(module)!r}, "
            "which the client class has already",
            hint="rename the contract module",
        )
        for module in model.modules()
        if attribute(module) in CLIENT_MEMBERS
    ]
    problems += [
        Problem(
            f"declares {', '.join(sorted({k.option for k in task.flow_keys}))}, "
            "which the TypeScript client does not enforce yet (its tasks would bypass the gate)",
            location=task.location,
            task=task.wire_name,
            hint="leave ts-out unset for this contract, or drop the option from the task",
        )
        for task in model.tasks
        if task.flow_keys
    ]
    if problems:
        raise ContractError(problems)
