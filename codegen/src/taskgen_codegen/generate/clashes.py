"""Every name the generated code declares, checked against every other before anything is
written: two things under one name would build, then fail at import, at first use, or in mypy.

Each namespace of the output (the client package, the client's attributes, a class body, a
handler module, the bindings module, the handler folders) lists who wants which name; a name
wanted twice, or one that hides something the generated code needs, is a ``Problem`` naming
both owners and what to rename.
"""

from __future__ import annotations

import builtins
import keyword
import re
import sys
from dataclasses import dataclass, field

from taskgen_codegen.contract import ContractError, ContractModel, Problem
from taskgen_codegen.contract.errors import Location
from taskgen_codegen.contract.model import Definition, StructDef, TaskSpec
from taskgen_codegen.generate.config import BuildConfig
from taskgen_codegen.generate.names import args_class, attribute, pascal, task_class, task_constant
from taskgen_codegen.generate.views import (
    Imports,
    class_names,
    definition_views,
    module_aliases,
    task_view,
)

#: Names the generated client and bindings modules import or define for themselves.
RESERVED = frozenset(
    {
        "annotations",
        "dataclasses",
        "datetime",
        "decimal",
        "enum",
        "msgspec",
        "runtime",
        "typing",
        "uuid",
        "Any",
        "Awaitable",
        "Context",
        "Mapping",
        "TYPE_CHECKING",
        "bindings",
    }
)
#: The generated client's own attributes and methods: a contract module may not take them.
CLIENT_ATTRIBUTES = frozenset({"client", "close", "enqueue_many", "from_url"})
#: Names every generated handler module imports.
HANDLER_IMPORTS = frozenset({"annotations", "Context", "ProgressContext"})
BUILTINS = frozenset(dir(builtins))
#: Top-level modules a client or worker package of the same name would hide.
SHADOWED = frozenset(sys.stdlib_module_names) | {"msgspec", "redis", "taskgen", "hiredis"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Owner:
    """Who wants a name: a phrase for people, the contract place, and what to rename."""

    what: str
    location: Location | None = None
    task: str | None = None
    fix: str = ""


@dataclass
class Namespace:
    """One scope of the generated code and the owners of each name in it."""

    where: str
    names: dict[str, list[Owner]] = field(default_factory=dict)

    def claim(self, name: str, owner: Owner) -> None:
        self.names.setdefault(name, []).append(owner)

    def problems(self) -> list[Problem]:
        # The same owners clash on a class and its blocking twin: one problem names both.
        clashes: dict[tuple[Owner, ...], list[str]] = {}
        for name, owners in self.names.items():
            if len(owners) > 1:
                clashes.setdefault(tuple(owners), []).append(name)
        return [_clash(self.where, names, list(owners)) for owners, names in clashes.items()]


def check_names(model: ContractModel, config: BuildConfig) -> None:
    """Raise ``ContractError`` listing every clash of names in the code the build would write."""
    problems = [
        *_packages(config),
        *_client_namespace(model, config),
        *_client_attributes(model),
        *_class_bodies(model),
        *_handler_modules(model),
        *_handler_folders(model),
        *_bindings(model),
    ]
    if problems:
        raise ContractError(sorted(problems, key=_order))


# -- the namespaces ----------------------------------------------------------------------


def _packages(config: BuildConfig) -> list[Problem]:
    """The client and the worker are top-level packages of one Python path."""
    client = config.client_package
    if keyword.iskeyword(client):
        return [
            Problem(
                f"client-package = {client!r} is a Python keyword: it cannot be imported",
                hint="set client-package in [tool.taskgen] to another name",
            )
        ]
    for setting, name in (("client-package", client), ("worker-out", config.worker_package)):
        if name in SHADOWED:
            return [
                Problem(
                    f"{setting} = {name!r} would hide the module {name!r} that the generated "
                    "code imports",
                    hint=f"set {setting} in [tool.taskgen] to another name",
                )
            ]
    if config.worker_out is not None and client == config.worker_package:
        return [
            Problem(
                f"client-package = {client!r} and worker-out = {config.worker_out!r} would both "
                f"be imported as {client!r}",
                hint="set client-package or worker-out in [tool.taskgen] to another name",
            )
        ]
    return []


def _client_namespace(model: ContractModel, config: BuildConfig) -> list[Problem]:
    """models.py, tasks.py and client.py import each other's names: one namespace."""
    space = Namespace(f"the client package {config.client_package}")
    generated = Owner("a name the generated code imports")
    for name in RESERVED:
        space.claim(name, generated)
    for definition in model.definitions:
        owner = _type_owner(definition)
        space.claim(definition.name, owner)
        if isinstance(definition, StructDef) and _mixes_keywords(definition):
            space.claim(f"_{definition.name}Keywords", owner)
    client = Owner(
        f"the client class (client-package = {config.client_package!r})",
        fix="set client-class in [tool.taskgen]",
    )
    space.claim(config.client_class_name, client)
    space.claim(f"{config.client_class_name}Sync", client)
    for module in model.modules():
        located = model.tasks_of(module)[0].location
        owner = Owner(f"the class of contract module {module!r}", located, fix="rename the module")
        space.claim(pascal(module, "tasks"), owner)
        space.claim(pascal(module, "tasks") + "Sync", owner)
    for task in model.tasks:
        owner = _task_owner(task, "the classes of")
        for name in (task_class(task), task_class(task) + "Sync", args_class(task)):
            space.claim(name, owner)
        space.claim(task_constant(task), owner)
        if task.progress is not None:
            space.claim(f"{task_constant(task)}_PROGRESS", owner)
    problems = space.problems()
    for name, owners in space.names.items():
        if name in BUILTINS or keyword.iskeyword(name):
            mine = [owner for owner in owners if owner is not generated]
            problems += [_hides(name, owner, space.where) for owner in mine]
    return problems


def _client_attributes(model: ContractModel) -> list[Problem]:
    space = Namespace("the generated client's attributes")
    for name in CLIENT_ATTRIBUTES:
        space.claim(name, Owner(f"the client's own {name}()"))
    for module in model.modules():
        located = model.tasks_of(module)[0].location
        space.claim(
            attribute(module),
            Owner(f"contract module {module!r}", located, fix="rename the module"),
        )
    return space.problems()


def _class_bodies(model: ContractModel) -> list[Problem]:
    """In a class body a field hides any global of its name from the annotations after it."""
    problems: list[Problem] = []
    for definition in model.definitions:
        imports = Imports(aliases=module_aliases(class_names(definition)))
        spelled = {
            word
            for view in definition_views(definition, imports)
            for f in view.fields
            for word in _words(f.annotation, f.value)
        }
        for name in set(class_names(definition)) & spelled:
            owner = _type_owner(definition)
            problems.append(
                _problem(
                    f"field {name!r} of {definition.name} hides the type {name!r} that its "
                    "annotations name",
                    owner,
                    f"rename the field (msgspec.field(name={name!r}) keeps the wire name)",
                )
            )
    for task in model.tasks:
        imports = Imports(aliases=module_aliases(p.name for t in model.tasks for p in t.params))
        view = task_view(task, imports)
        spelled = {w for p in view.params for w in _words(p.annotation, p.default)}
        for name in sorted({p.name for p in task.params} & spelled):
            problems.append(
                _problem(
                    f"parameter {name!r} hides the type {name!r} in the generated arguments class",
                    _task_owner(task, "the arguments of"),
                    "rename the parameter",
                )
            )
    return problems


def _handler_modules(model: ContractModel) -> list[Problem]:
    """A handler module defines the handler, imports what its signature spells, and its
    signature names builtins: the handler's own name must be none of them."""
    problems: list[Problem] = []
    for task in model.tasks:
        view = task_view(task, Imports())
        spelled = _words(
            view.returns,
            view.progress,
            *(w for p in view.params for w in (p.annotation, p.default)),
        )
        if task.name in spelled | HANDLER_IMPORTS:
            problems.append(
                _problem(
                    f"the handler {task.name}() would hide the name {task.name!r} that its "
                    "signature uses",
                    _task_owner(task, "the handler of"),
                    "rename the task",
                )
            )
    return problems


def _handler_folders(model: ContractModel) -> list[Problem]:
    """``handlers/a/b.py`` (task b of module a) and ``handlers/a/b/`` (module a.b) clash."""
    folders = {module.replace(".", "/"): module for module in model.modules()}
    problems: list[Problem] = []
    for task in model.tasks:
        path = f"{task.module.replace('.', '/')}/{task.name}"
        if path in folders:
            problems.append(
                _problem(
                    f"its handler handlers/{path}.py and the handlers of contract module "
                    f"{folders[path]!r} (handlers/{path}/) take the same name",
                    _task_owner(task, "the handler of"),
                    "rename the task or the module",
                )
            )
    for module in model.modules():
        bad = [p for p in module.split(".") if not p.isidentifier() or keyword.iskeyword(p)]
        if bad:
            problems.append(
                _problem(
                    f"contract module {module!r}: {bad[0]!r} cannot be imported by name",
                    Owner(f"contract module {module!r}", model.tasks_of(module)[0].location),
                    "rename the module to a Python identifier that is not a keyword",
                )
            )
    return problems


def _bindings(model: ContractModel) -> list[Problem]:
    space = Namespace("the worker's bindings module")
    for task in model.tasks:
        alias = f"_{task.module.replace('.', '_')}_{task.name}"
        owner = _task_owner(task, "the handler of")
        space.claim(alias, owner)
        space.claim(f"_run{alias}", owner)
    return space.problems()


# -- owners and messages -----------------------------------------------------------------


def _type_owner(definition: Definition) -> Owner:
    return Owner(f"type {definition.name}", definition.location, fix="rename the type")


def _task_owner(task: TaskSpec, what: str) -> Owner:
    return Owner(f"{what} task {task.wire_name}", task.location, task.wire_name, "rename the task")


def _mixes_keywords(definition: StructDef) -> bool:
    kinds = {f.kw_only for f in definition.fields}
    return len(kinds) == 2


def _words(*spellings: str | None) -> set[str]:
    """The top-level names a spelling refers to (``a.B[c]`` → ``a``, ``c``)."""
    text = " ".join(s for s in spellings if s)
    # String literals and keyword-argument names refer to nothing.
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\b[A-Za-z_][A-Za-z0-9_]*\s*=(?!=)", "", text)
    found = _IDENTIFIER.finditer(text)
    return {m.group() for m in found if m.start() == 0 or text[m.start() - 1] != "."}


def _clash(where: str, names: list[str], owners: list[Owner]) -> Problem:
    first = next((o for o in owners if o.location is not None), owners[0])
    others = [o for o in owners if o is not first]
    unique = list(dict.fromkeys(o.what for o in owners))
    fixes = list(dict.fromkeys(o.fix for o in owners if o.fix))
    name = " and ".join(repr(n) for n in names)
    return Problem(
        f"{' and '.join(unique)} would {'both' if len(unique) == 2 else 'all'} be named "
        f"{name} in {where}"
        if len(unique) > 1
        else f"{unique[0]} would declare {name} {len(owners)} times in {where}",
        first.location or next((o.location for o in others if o.location), None),
        task=first.task,
        hint=" or ".join(fixes) or "rename one of them",
    )


def _hides(name: str, owner: Owner, where: str) -> Problem:
    kind = "keyword" if keyword.iskeyword(name) else "builtin"
    return _problem(
        f"{owner.what} would be named {name!r} in {where}, which hides the Python {kind}",
        owner,
        owner.fix or "rename it",
    )


def _problem(message: str, owner: Owner, hint: str) -> Problem:
    return Problem(message, owner.location, task=owner.task, hint=hint)


def _order(problem: Problem) -> tuple[str, int, str]:
    where = problem.location
    return (where.file if where else "", where.line if where else 0, problem.message)
