"""One build: load the contracts, render the client and the worker scaffold, write them."""

from __future__ import annotations

from pathlib import Path

from taskgen_codegen.check.compat import compare
from taskgen_codegen.check.lock import accepted_lock, encode_lock, lock_of
from taskgen_codegen.contract import ContractError, ContractModel, Problem, load_contracts
from taskgen_codegen.generate.client import client_files
from taskgen_codegen.generate.config import BuildConfig
from taskgen_codegen.generate.files import OutputFile
from taskgen_codegen.generate.formatting import format_python
from taskgen_codegen.generate.names import attribute
from taskgen_codegen.generate.scaffold import handler_paths, worker_files
from taskgen_codegen.generate.writer import Report, apply, write_file

#: Names every generated client module uses for itself; a contract type may not take them.
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
    }
)


def build(config: BuildConfig, *, check: bool = False) -> Report:
    """Build (or with ``check``, compare) the client package and the worker scaffold."""
    model = load_contracts(config.contracts_path)
    return build_model(model, config, check=check)


def build_model(model: ContractModel, config: BuildConfig, *, check: bool = False) -> Report:
    """Render and write the files of an already loaded contract model, then the lock file."""
    _check_names(model, config)
    files = render_files(model, config)
    report = apply(files, check=check, orphans=orphaned_handlers(model, config))
    lock = lock_of(model)
    path = config.lock_path
    previous = accepted_lock(path)  # an unreadable lock is simply rewritten
    if previous is not None:
        report.recorded = compare(previous, lock)
    report.changes.append(write_file(OutputFile(path.parent, path.name, encode_lock(lock)), check))
    return report


def render_files(model: ContractModel, config: BuildConfig) -> list[OutputFile]:
    """Every file of the build, in memory."""
    files = [*client_files(model, config), *worker_files(model, config)]
    return format_python(files, first_party=[config.worker_package])


def orphaned_handlers(model: ContractModel, config: BuildConfig) -> list[Path]:
    """Handler modules whose task the contract no longer declares."""
    root = config.worker_path
    if root is None or not (root / "handlers").is_dir():
        return []
    wanted = handler_paths(model)
    return [
        path
        for path in (root / "handlers").rglob("*.py")
        if path.name != "__init__.py"
        and "__pycache__" not in path.parts
        and path.relative_to(root).as_posix() not in wanted
    ]


def _check_names(model: ContractModel, config: BuildConfig) -> None:
    """Names the generated code would need twice stop the build with a clear message."""
    problems: list[Problem] = []
    for definition in model.definitions:
        if definition.name in RESERVED or definition.name == config.client_class_name:
            problems.append(
                Problem(
                    f"type name {definition.name!r} is used by the generated code itself",
                    definition.location,
                    hint="rename the type in the contract",
                )
            )
    reserved_attrs = {"client", "close", "enqueue_many", "from_url"}
    for module in model.modules():
        if attribute(module) in reserved_attrs:
            problems.append(
                Problem(
                    f"contract module {module!r} would shadow the client's {attribute(module)}()",
                    hint="rename the contract module",
                )
            )
    if problems:
        raise ContractError(problems)
