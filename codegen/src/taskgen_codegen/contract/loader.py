"""Loading a contracts folder: import its modules, read every ``@task``, build the model."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import traceback
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec

from taskgen.vocabulary import PROGRESS_ATTR, TASK_ATTR, TaskOptions, validate_wire_name
from taskgen_codegen.contract.errors import ContractError, Location, Problem
from taskgen_codegen.contract.fingerprint import fingerprint
from taskgen_codegen.contract.model import ContractModel, Param, ParamKind, TaskSpec, TypeExpr
from taskgen_codegen.contract.sources import SourceIndex, forget_sources
from taskgen_codegen.contract.types import TypeReader, Unsupported

_KINDS: dict[Any, ParamKind] = {
    inspect.Parameter.POSITIONAL_ONLY: "positional_only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword_only",
}

#: Parameter names the generated handler signature uses for itself.
RESERVED_PARAMS = frozenset({"ctx", "self"})


def load_contracts(folder: Path | str) -> ContractModel:
    """Import every module under ``folder`` and build the contract model from its tasks."""
    path = Path(folder).resolve()
    if not path.is_dir():
        raise ContractError(
            [
                Problem(
                    f"contracts folder {folder} does not exist or is not a folder",
                    hint="pass the folder that holds your contract modules: "
                    "taskgen build contracts/",
                )
            ]
        )
    if not path.name.isidentifier():
        raise ContractError(
            [
                Problem(
                    f"contracts folder name {path.name!r} is not a Python identifier",
                    hint="rename the folder so it can be imported, e.g. contracts/",
                )
            ]
        )
    return _Loader(path).load()


class _Loader:
    """One load of one contracts folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.package = folder.name
        self.sources = SourceIndex(folder.parent)
        self.reader = TypeReader(self.sources)
        self.problems: list[Problem] = []

    def load(self) -> ContractModel:
        tasks = [
            spec
            for module in self._import_modules()
            for fn in _declared_tasks(module)
            if (spec := self._read_task(fn, self._label(module))) is not None
        ]
        self._check_duplicates(tasks)
        self.problems.extend(self.reader.problems)
        errors = [p for p in self.problems if p.level == "error"]
        if errors:
            raise ContractError(sorted(errors, key=_problem_order))
        definitions = dict(sorted(self.reader.definitions.items()))
        tasks = sorted(
            (msgspec.structs.replace(t, fingerprint=fingerprint(t, definitions)) for t in tasks),
            key=lambda t: (t.module, t.name),
        )
        return ContractModel(self.package, tuple(tasks), tuple(definitions.values()))

    # -- importing -------------------------------------------------------------------------

    def _import_modules(self) -> list[ModuleType]:
        """Import the package and every module below it, in sorted order."""
        _forget_package(self.package)
        forget_sources()
        root = str(self.folder.parent)
        sys.path.insert(0, root)
        importlib.invalidate_caches()
        try:
            modules = []
            for name in self._module_names():
                module = self._import(name)
                if module is not None:
                    modules.append(module)
            return modules
        finally:
            sys.path.remove(root)

    def _module_names(self) -> list[str]:
        names = []
        for file in self.folder.rglob("*.py"):
            parts = file.relative_to(self.folder).with_suffix("").parts
            if any(not p.isidentifier() for p in parts[:-1]) or "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            elif not parts[-1].isidentifier():
                continue
            names.append(".".join((self.package, *parts)))
        return sorted(names)

    def _import(self, name: str) -> ModuleType | None:
        try:
            return importlib.import_module(name)
        except Exception as exc:
            self.problems.append(
                Problem(
                    f"cannot import {name}: {type(exc).__name__}: {exc}",
                    location=self._failure_location(exc, name),
                    hint=f"fix the module so that `python -c 'import {name}'` works "
                    "from the contracts folder's parent",
                )
            )
            return None

    def _failure_location(self, exc: BaseException, name: str) -> Location:
        if isinstance(exc, SyntaxError) and exc.filename:
            return Location(self.sources.relative(exc.filename), exc.lineno or 1)
        inside = [
            frame
            for frame in traceback.extract_tb(exc.__traceback__)
            if Path(frame.filename).resolve().is_relative_to(self.folder)
        ]
        if inside:
            return Location(self.sources.relative(inside[-1].filename), inside[-1].lineno or 1)
        module_path = self.folder.joinpath(*name.split(".")[1:])
        file = (
            module_path / "__init__.py" if module_path.is_dir() else module_path.with_suffix(".py")
        )
        return Location(self.sources.relative(str(file)), 1)

    def _label(self, module: ModuleType) -> str:
        """A module's name relative to the contracts package: ``billing``, ``sub.billing``."""
        name = module.__name__
        return name[len(self.package) + 1 :] if name != self.package else self.package

    # -- reading tasks ---------------------------------------------------------------------

    def _read_task(self, fn: Callable[..., Any], module: str) -> TaskSpec | None:
        options: TaskOptions = getattr(fn, TASK_ATTR)
        location = self.sources.of(fn)
        wire_name = options.name or f"{module}.{fn.__name__}"
        before = len(self.problems)

        def problem(message: str, hint: str | None = None, at: Location | None = None) -> None:
            self.problems.append(Problem(message, at or location, wire_name, hint))

        self._check_body(fn, problem)
        self._check_options(options, wire_name, problem)
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception as exc:
            problem(
                f"cannot resolve its annotations: {type(exc).__name__}: {exc}",
                "import every type the signature names into the contract module",
            )
            return None
        params = self._read_params(fn, hints, problem)
        returns = None
        if "return" not in hints:
            problem("has no return annotation", "declare what it returns, or `-> None`")
        else:
            try:
                returns = self.reader.read(hints["return"])
            except Unsupported as exc:
                problem(f"return type: {exc.message}", exc.hint, exc.location)
        progress = self._read_progress(fn, problem)
        if len(self.problems) > before or returns is None:
            return None
        self._check_msgspec(fn, hints, problem)
        if len(self.problems) > before:
            return None
        return TaskSpec(
            name=fn.__name__,
            module=module,
            wire_name=wire_name,
            params=tuple(params),
            returns=returns,
            options=options,
            location=location,
            doc=_first_line(inspect.getdoc(fn)),
            progress=progress,
        )

    def _read_progress(self, fn: Callable[..., Any], problem: _Report) -> TypeExpr | None:
        """The declared progress type, read and checked like a result type."""
        declared = getattr(fn, PROGRESS_ATTR, None)
        if declared is None:
            return None
        hint = "declare a type msgspec encodes, e.g. a msgspec.Struct: @task(progress=MyProgress)"
        if isinstance(declared, str):
            problem(
                f"progress type {declared!r} is a string; pass the type itself",
                "import the type into the contract module and pass it: @task(progress=MyProgress)",
            )
            return None
        try:
            expr = self.reader.read(declared)
        except Unsupported as exc:
            problem(f"progress type: {exc.message}", exc.hint or hint, exc.location)
            return None
        try:
            msgspec.msgpack.Decoder(declared)
        except (TypeError, ValueError) as exc:
            problem(f"msgspec cannot decode the progress type: {exc}", _msgspec_hint(str(exc)))
            return None
        return expr

    def _read_params(
        self, fn: Callable[..., Any], hints: dict[str, Any], problem: _Report
    ) -> list[Param]:
        params = []
        for p in inspect.signature(fn).parameters.values():
            if p.kind not in _KINDS:
                problem(
                    f"parameter {'*' if p.kind is p.VAR_POSITIONAL else '**'}{p.name} "
                    "cannot be sent: the wire needs every parameter by name",
                    "declare each parameter, or gather them in one msgspec.Struct parameter",
                )
                continue
            if p.name in RESERVED_PARAMS:
                problem(
                    f"parameter name {p.name!r} is reserved for the handler's own use",
                    "rename the parameter, and pin its wire name with a Struct if needed",
                )
                continue
            if p.name not in hints:
                problem(
                    f"parameter {p.name} has no type annotation",
                    f"annotate it, e.g. `{p.name}: str`",
                )
                continue
            try:
                expr = self.reader.read(hints[p.name])
                default = None if p.default is p.empty else self.reader.default(p.default)
            except Unsupported as exc:
                problem(f"parameter {p.name}: {exc.message}", exc.hint, exc.location)
                continue
            params.append(Param(p.name, _KINDS[p.kind], expr, default))
        return params

    def _check_body(self, fn: Callable[..., Any], problem: _Report) -> None:
        node = self.sources.function_node(fn)
        if node is None:
            return
        body = list(node.body)
        if body and _is_docstring(body[0]):
            body = body[1:]
        if not (len(body) == 1 and _is_ellipsis(body[0])):
            line = body[0].lineno if body else node.lineno
            file = self.sources.of(fn)
            problem(
                "a contract declares only the signature, but this task has a body",
                "write `...` as the body; the implementation goes in the worker's handler",
                Location(file.file, line) if file else None,
            )

    def _check_options(self, options: TaskOptions, wire_name: str, problem: _Report) -> None:
        for what, value in (("wire name", wire_name), ("queue", options.queue)):
            reason = validate_wire_name(value, what)
            if reason:
                problem(reason, "pick a name like 'billing' or 'billing.charge'")
        if options.timeout is not None and options.timeout <= 0:
            problem(f"timeout={options.timeout} must be > 0 seconds", "or leave it out (None)")
        if options.result_ttl <= 0:
            problem(f"result_ttl={options.result_ttl} must be > 0 seconds")

    def _check_msgspec(
        self, fn: Callable[..., Any], hints: dict[str, Any], problem: _Report
    ) -> None:
        """Ask msgspec itself whether it can decode the arguments and the result."""
        fields = [(name, tp) for name, tp in hints.items() if name != "return"]
        try:
            msgspec.msgpack.Decoder(msgspec.defstruct(f"{fn.__name__}_args", fields))
            msgspec.msgpack.Decoder(hints["return"])
        except (TypeError, ValueError) as exc:
            problem(f"msgspec cannot decode this signature: {exc}", _msgspec_hint(str(exc)))

    def _check_duplicates(self, tasks: list[TaskSpec]) -> None:
        by_wire: dict[str, TaskSpec] = {}
        for spec in tasks:
            first = by_wire.setdefault(spec.wire_name, spec)
            if first is not spec:
                self.problems.append(
                    Problem(
                        f"wire name {spec.wire_name!r} is already used by "
                        f"{first.module}.{first.name} at {first.location}",
                        spec.location,
                        spec.wire_name,
                        "give one of them another name with @task(name=...)",
                    )
                )


class _Report(typing.Protocol):
    def __call__(
        self, message: str, hint: str | None = None, at: Location | None = None
    ) -> None: ...


def _declared_tasks(module: ModuleType) -> Iterator[Callable[..., Any]]:
    """The ``@task`` functions defined (not merely imported) in a module."""
    for obj in vars(module).values():
        if (
            inspect.isfunction(obj)
            and hasattr(obj, TASK_ATTR)
            and obj.__module__ == module.__name__
        ):
            yield obj


def _msgspec_hint(message: str) -> str:
    """What to change, by the kind of type msgspec refused."""
    if "union" in message.lower():
        return (
            "a union may hold one Struct type, or several tagged ones (tag=True), and at most "
            "one type of each JSON kind; see "
            "https://jcristharif.com/msgspec/supported-types.html#union-optional"
        )
    if "Meta" in message or "constraint" in message or "Can only set" in message:
        return (
            "each constraint applies to some types only (ge/le to numbers, pattern to str, "
            "min_length to str, bytes and collections); see "
            "https://jcristharif.com/msgspec/constraints.html"
        )
    return "see https://jcristharif.com/msgspec/supported-types.html"


def _forget_package(package: str) -> None:
    """Drop an earlier import of the package, so a rebuild reads the sources as they are now."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_ellipsis(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and stmt.value.value is Ellipsis
    )


def _first_line(doc: str | None) -> str | None:
    return doc.strip().splitlines()[0] if doc and doc.strip() else None


def _problem_order(p: Problem) -> tuple[str, int, str]:
    return (p.location.file if p.location else "", p.location.line if p.location else 0, p.message)
