"""The client package: models, task definitions, the typed client, and its packaging."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version

from taskgen_codegen.check.lineage import NO_LINEAGE, Lineage
from taskgen_codegen.contract.model import (
    ContractModel,
    DataclassDef,
    Definition,
    NamedTupleDef,
    NewTypeDef,
    StructDef,
    refs_of,
)
from taskgen_codegen.generate.config import BuildConfig
from taskgen_codegen.generate.files import ImportLines, OutputFile, header
from taskgen_codegen.generate.render import render
from taskgen_codegen.generate.views import (
    DefinitionView,
    Imports,
    TaskView,
    class_names,
    definition_views,
    module_aliases,
    module_views,
    task_view,
)


def client_files(
    model: ContractModel, config: BuildConfig, lineages: Mapping[str, Lineage] | None = None
) -> list[OutputFile]:
    """Every file of the client distribution folder; ``lineages`` from the lock, by wire name."""
    root = config.client_path
    package = config.client_package
    context: dict[str, object] = {"header": header(model.package), "package": model.package}
    files = [
        OutputFile(root, f"{package}/models.py", _models(model, context)),
        OutputFile(root, f"{package}/tasks.py", _tasks(model, context, lineages or {})),
        OutputFile(root, f"{package}/client.py", _client(model, config, context)),
        OutputFile(root, f"{package}/__init__.py", _init(model, config, context)),
        OutputFile(root, f"{package}/py.typed", ""),
        OutputFile(root, "pyproject.toml", _pyproject(model, config)),
    ]
    return files


def _models(model: ContractModel, context: Mapping[str, object]) -> str:
    definitions = ordered(model)
    imports = Imports(aliases=module_aliases(n for d in definitions for n in class_names(d)))
    views: list[DefinitionView] = [v for d in definitions for v in definition_views(d, imports)]
    lines = ImportLines()
    lines.modules(imports.modules, imports.aliases)
    return render(
        "client/models.py.jinja",
        **context,
        **lines.groups(),
        definitions=views,
        all=sorted(d.name for d in model.definitions),
    )


def _tasks(
    model: ContractModel, context: Mapping[str, object], lineages: Mapping[str, Lineage]
) -> str:
    imports = Imports(aliases=module_aliases(p.name for t in model.tasks for p in t.params))
    tasks = [task_view(t, imports, lineages.get(t.wire_name, NO_LINEAGE)) for t in model.tasks]
    struct = imports.qualified("msgspec", "Struct")
    lines = ImportLines()
    lines.modules(imports.modules, imports.aliases)
    lines.add("from taskgen import runtime")
    lines.from_(".models", imports.names)
    names = [n for t in tasks for n in _task_constants(t)]
    return render(
        "client/tasks.py.jinja",
        **context,
        **lines.groups(),
        tasks=tasks,
        struct=struct,
        all=sorted(names),
    )


def _client(model: ContractModel, config: BuildConfig, context: Mapping[str, object]) -> str:
    imports = Imports()
    modules = module_views(model, imports)
    lines = ImportLines()
    lines.modules(imports.modules)
    lines.add("from taskgen import runtime")
    lines.from_(".models", imports.names)
    lines.from_(".tasks", [n for m in modules for t in m.tasks for n in _task_constants(t)])
    classes = [
        config.client_class_name,
        *(m.cls for m in modules),
        *(t.cls for m in modules for t in m.tasks),
    ]
    names = [name + suffix for name in classes for suffix in ("", "Sync")]
    return render(
        "client/client.py.jinja",
        **context,
        **lines.groups(),
        modules=modules,
        client_class=config.client_class_name,
        client_slots=[f'"{m.attr}"' for m in modules],
        all=sorted(names),
    )


def _task_constants(task: TaskView) -> list[str]:
    """The names the tasks module defines for one task."""
    progress = [task.progress_const] if task.progress is not None else []
    return [task.args_cls, task.const, *progress]


def _init(model: ContractModel, config: BuildConfig, context: Mapping[str, object]) -> str:
    lines = ImportLines()
    clients = [config.client_class_name, f"{config.client_class_name}Sync"]
    lines.from_(".client", clients)
    definitions = [d.name for d in model.definitions]
    lines.from_(".models", definitions)
    return render(
        "client/__init__.py.jinja",
        **context,
        **lines.groups(),
        all=sorted([*clients, *definitions]),
    )


def _pyproject(model: ContractModel, config: BuildConfig) -> str:
    return render(
        "client/pyproject.toml.jinja",
        source=f"{model.package}/",
        package=model.package,
        distribution=config.client_package.replace("_", "-"),
        version=config.client_version,
        client_package=config.client_package,
        runtime_requirement=runtime_requirement(),
    )


def ordered(model: ContractModel) -> list[Definition]:
    """Definitions sorted by name, moved after those their class bodies evaluate.

    Annotations are lazy (``from __future__ import annotations``), but defaults, factories
    and NewType bases are evaluated when the module runs."""
    by_name = {d.name: d for d in model.definitions}
    waiting = {d.name: _evaluated_refs(d) & by_name.keys() for d in model.definitions}
    out: list[Definition] = []
    while waiting:
        ready = sorted(name for name, needs in waiting.items() if not needs)
        if not ready:  # a cycle cannot be declared in Python either; keep name order
            ready = sorted(waiting)
        for name in ready:
            del waiting[name]
            out.append(by_name[name])
            for needs in waiting.values():
                needs.discard(name)
    return out


def _evaluated_refs(definition: Definition) -> set[str]:
    if isinstance(definition, NewTypeDef):
        return refs_of(definition.base)
    if isinstance(definition, StructDef | DataclassDef | NamedTupleDef):
        return {r for f in definition.fields if f.default for r in f.default.refs}
    return set()


def runtime_requirement() -> str:
    """The runtime the generated client needs: this tool's version, up to the next minor.

    The distribution is ``taskgen-runtime``: ``taskgen`` on the public index is another
    project, and a bare ``taskgen`` requirement would install it."""
    major, minor, patch = version("taskgen-runtime").split(".")[:3]
    return f"taskgen-runtime>={major}.{minor}.{patch},<{major}.{int(minor) + 1}"
