"""The worker scaffold: handler stubs and the entry point (the user's, created once), and the
bindings module that ties handlers to the contract (regenerated)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taskgen_codegen.contract.model import ContractModel, TaskSpec
from taskgen_codegen.generate.config import BuildConfig
from taskgen_codegen.generate.files import ImportLines, OutputFile, header
from taskgen_codegen.generate.injected import injected
from taskgen_codegen.generate.render import render
from taskgen_codegen.generate.views import Imports, TaskView, task_view


@dataclass(frozen=True)
class HandlerImport:
    """``from <package> import <name> as <alias>``: one handler module in the bindings."""

    package: str
    name: str
    alias: str


def worker_files(model: ContractModel, config: BuildConfig) -> list[OutputFile]:
    """Every file of the worker scaffold; an empty list when no worker output is set."""
    root = config.worker_path
    if root is None:
        return []
    files = [
        OutputFile(root, "bindings.py", _bindings(model, config)),
        _package(root, "__init__.py", f"The worker of the {model.package} contract."),
        _package(root, "handlers/__init__.py", "Task handlers: one module per task."),
        OutputFile(
            root,
            "main.py",
            render("worker/main.py.jinja", worker_package=config.worker_package),
            user_owned=True,
        ),
    ]
    for module in model.modules():
        folder = "handlers/" + module.replace(".", "/")
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            files.append(
                _package(
                    root,
                    f"handlers/{sub}/__init__.py",
                    f"Handlers of the {'.'.join(parts[:depth])} tasks.",
                )
            )
        for spec in model.tasks_of(module):
            files.append(_handler(root, f"{folder}/{spec.name}.py", model, config, spec))
    return _unique(files)


def handler_paths(model: ContractModel) -> set[str]:
    """The handler modules the contract calls for, relative to the worker folder."""
    return {f"handlers/{t.module.replace('.', '/')}/{t.name}.py" for t in model.tasks}


def _bindings(model: ContractModel, config: BuildConfig) -> str:
    # The adapters spell only each task's return type; arguments come in the args Struct.
    imports = Imports()
    tasks = [task_view(t, Imports()) for t in model.tasks]
    for spec in model.tasks:
        imports.type(spec.returns)
        if spec.progress is not None:
            imports.type(spec.progress)
    lines = ImportLines()
    lines.modules(imports.modules)
    lines.add("from collections.abc import Awaitable, Mapping")
    lines.add("from typing import TYPE_CHECKING, Any")
    lines.add("from taskgen import runtime")
    client = config.client_package
    lines.from_(f"{client}.models", imports.names)
    lines.from_(f"{client}.tasks", [n for t in tasks for n in (t.args_cls, t.const)])
    handlers = sorted(
        (
            HandlerImport(
                f"{config.worker_package}.handlers.{t.spec.module}", t.name, t.handler_alias
            )
            for t in tasks
        ),
        key=lambda h: (h.package, h.name),
    )
    return render(
        "worker/bindings.py.jinja",
        header=header(model.package),
        injected=_injected(model, config, tasks),
        package=model.package,
        worker_package=config.worker_package,
        tasks=tasks,
        handlers=handlers,
        **lines.groups(),
    )


def _injected(
    model: ContractModel, config: BuildConfig, tasks: list[TaskView]
) -> dict[str, list[str]]:
    """Each adapter's arguments beyond the contract's, from what its handler injects."""
    root = config.worker_path
    assert root is not None
    types = {d.name for d in model.definitions}
    return {
        t.adapter: injected(
            root / f"handlers/{t.spec.module.replace('.', '/')}/{t.name}.py",
            t.name,
            {p.name for p in t.spec.params},
            types,
        ).arguments()
        for t in tasks
    }


def _handler(
    root: Path, path: str, model: ContractModel, config: BuildConfig, spec: TaskSpec
) -> OutputFile:
    imports = Imports()
    view: TaskView = task_view(spec, imports)
    lines = ImportLines()
    lines.modules(imports.modules)
    lines.add(f"from taskgen.runtime import {view.context_class}")
    lines.from_(f"{config.client_package}.models", imports.names)
    content = render("worker/handler.py.jinja", t=view, **lines.groups())
    return OutputFile(root, path, content, user_owned=True)


def _package(root: Path, path: str, doc: str) -> OutputFile:
    return OutputFile(root, path, render("worker/package.py.jinja", doc=doc), user_owned=True)


def _unique(files: list[OutputFile]) -> list[OutputFile]:
    seen: dict[str, OutputFile] = {}
    for f in files:
        seen.setdefault(f.path, f)
    return sorted(seen.values(), key=lambda f: f.path)
