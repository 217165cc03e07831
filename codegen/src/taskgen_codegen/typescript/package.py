"""The files of the generated npm package: sources, package.json, its lock, tsconfig.json.

Only ``src/types.ts``, ``src/tasks.ts`` and ``src/index.ts`` depend on the contract. The
runtime (``src/runtime``) is copied from this package's own TypeScript files and the Lua
scripts from the Python runtime's, at every build, so both clients run the same scripts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from taskgen.runtime.scripts import source
from taskgen_codegen.contract.model import ContractModel, Field, TaskSpec, TypeExpr
from taskgen_codegen.generate.config import BuildConfig
from taskgen_codegen.generate.files import GENERATED_MARK, OutputFile
from taskgen_codegen.generate.names import attribute, constant, pascal
from taskgen_codegen.generate.render import render
from taskgen_codegen.schema.live import LiveTask, live_classes, live_tasks
from taskgen_codegen.typescript.clashes import check_typescript_names
from taskgen_codegen.typescript.descriptor import definitions, task_def
from taskgen_codegen.typescript.spelling import declaration, property_line, spell

#: The runtime's TypeScript modules, copied into ``src/runtime``.
RUNTIME = ("client", "constraints", "decode", "encode", "envelope", "errors", "msgpack", "schema")

#: The scripts the TypeScript client calls.
SCRIPTS = ("enqueue", "status", "abort")

#: Pinned, and locked in ``package-lock.json`` (this package's template of it).
DEPENDENCIES = {"ioredis": "5.11.1"}
DEV_DEPENDENCIES = {"@types/node": "20.19.25", "typescript": "5.9.3"}


def header(package: str) -> str:
    """The comment that opens every generated TypeScript file."""
    return (
        f"// {GENERATED_MARK} from {package}/. DO NOT EDIT.\n"
        "// Regenerate with `taskgen build`; this file is rewritten or removed by it."
    )


def npm_name(config: BuildConfig) -> str:
    """The npm package's name: ``ts-package``, or the client package's, lower case with dashes."""
    return config.ts_package or config.client_package.replace("_", "-").lower()


def typescript_files(model: ContractModel, config: BuildConfig) -> list[OutputFile]:
    """Every file of the npm package, in memory (none unless ``ts-out`` is set)."""
    if config.ts_out is None:
        return []
    check_typescript_names(model, config)
    root = config.root_path / config.ts_out
    tasks = live_tasks(model, config.contracts_path)
    top = header(model.package)
    sources = {
        "src/types.ts": render(
            "typescript/types.ts.jinja",
            header=top,
            package=model.package,
            definitions=[
                {"doc": _doc(d.doc, d.name), "declaration": declaration(d)}
                for d in model.definitions
            ],
        ),
        "src/tasks.ts": _tasks(model, config, tasks, top),
        "src/index.ts": render("typescript/index.ts.jinja", header=top),
        "src/runtime/scripts.ts": _scripts(top),
    }
    runtime_dir = files("taskgen_codegen.typescript").joinpath("runtime")
    for name in RUNTIME:
        text = runtime_dir.joinpath(f"{name}.ts").read_text(encoding="utf-8")
        sources[f"src/runtime/{name}.ts"] = f"{top}\n{text}"
    name = npm_name(config)
    sources["package.json"] = _json(_package_json(model, config, name))
    sources["package-lock.json"] = _json(lock(name, config.client_version))
    sources["tsconfig.json"] = _json(TSCONFIG)
    return [OutputFile(root, path, text) for path, text in sorted(sources.items())]


@dataclass(frozen=True)
class _TaskView:
    spec: TaskSpec
    definition: str
    properties: list[str]

    @property
    def wire_name(self) -> str:
        return self.spec.wire_name

    @property
    def args_name(self) -> str:
        return pascal(self.spec.module, self.spec.name, "args")

    @property
    def result_name(self) -> str:
        return pascal(self.spec.module, self.spec.name, "result")

    @property
    def const(self) -> str:
        return constant(self.spec.module, self.spec.name)

    @property
    def attr(self) -> str:
        return self.spec.name

    @property
    def doc(self) -> str:
        return _doc(self.spec.doc, f"Enqueue {self.spec.wire_name}.")

    @property
    def result(self) -> str:
        return spell(self.spec.returns)


def _tasks(model: ContractModel, config: BuildConfig, tasks: dict[str, LiveTask], top: str) -> str:
    views = {}
    for spec in model.tasks:
        properties = [
            property_line(_param_field(p.name, p.type, p.default is None)) for p in spec.params
        ]
        views[spec.wire_name] = _TaskView(
            spec, _compact(task_def(tasks[spec.wire_name])), properties
        )
    groups = [
        {
            "module": module,
            "attr": attribute(module),
            "cls": pascal(module, "tasks"),
            "tasks": [views[t.wire_name] for t in model.tasks_of(module)],
        }
        for module in model.modules()
    ]
    return render(
        "typescript/tasks.ts.jinja",
        header=top,
        package=model.package,
        type_names=[d.name for d in model.definitions],
        definitions=_compact(definitions(model, live_classes(tasks))),
        tasks=[views[t.wire_name] for t in model.tasks],
        groups=groups,
        client_class=config.client_class_name,
    )


def _param_field(name: str, type_: TypeExpr, required: bool) -> Field:
    """A parameter as a field of the arguments interface."""
    return Field(name=name, type=type_, wire_name=name, required=required)


def _scripts(top: str) -> str:
    lines = [
        top,
        "// The runtime's Lua scripts, copied from taskgen.runtime.scripts at build time.",
        "",
        "/** The scripts this client calls, by name. */",
        "export const SCRIPTS = {",
    ]
    lines += [f"  {name}: {json.dumps(source(name))}," for name in SCRIPTS]
    lines.append("} as const;")
    return "\n".join(lines) + "\n"


def _doc(text: str | None, fallback: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else fallback
    return line.replace("*/", "*\\/")


def _compact(value: Any) -> str:
    """Data as a TypeScript literal, one item a line, so a change shows as a small diff."""
    return json.dumps(value, ensure_ascii=False, indent=2)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _package_json(model: ContractModel, config: BuildConfig, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": config.client_version,
        "description": f"Typed taskgen client for the tasks of {model.package}/ (generated).",
        "type": "module",
        "main": "dist/index.js",
        "types": "dist/index.d.ts",
        "exports": {".": {"types": "./dist/index.d.ts", "default": "./dist/index.js"}},
        "files": ["dist", "src"],
        "scripts": {"build": "tsc -p ."},
        "engines": {"node": ">=20"},
        "dependencies": DEPENDENCIES,
        "devDependencies": DEV_DEPENDENCIES,
    }


TSCONFIG: dict[str, Any] = {
    "compilerOptions": {
        "target": "ES2022",
        "lib": ["ES2022"],
        "module": "NodeNext",
        "moduleResolution": "NodeNext",
        "strict": True,
        "noUncheckedIndexedAccess": True,
        "declaration": True,
        "outDir": "dist",
        "rootDir": "src",
        "types": ["node"],
    },
    "include": ["src"],
}


def lock(name: str, version: str) -> dict[str, Any]:
    """The package's lock: the template's, under this package's name and version."""
    text = files("taskgen_codegen.typescript").joinpath("package-lock.json").read_text("utf-8")
    locked: dict[str, Any] = json.loads(text)
    locked["name"] = name
    locked["version"] = version
    locked["packages"][""].update(name=name, version=version)
    return locked


def lock_template_path() -> Path:
    """Where the lock template lives (``tests`` regenerate it with npm when pins change)."""
    return Path(str(files("taskgen_codegen.typescript").joinpath("package-lock.json")))
