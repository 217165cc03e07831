"""One build: load the contracts, render the client and the worker scaffold, write them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from taskgen_codegen.check.compat import compare
from taskgen_codegen.check.lineage import Lineage, lineage_of, with_lineage
from taskgen_codegen.check.lock import accepted_lock, encode_lock, lock_of
from taskgen_codegen.contract import ContractModel, load_contracts
from taskgen_codegen.generate.clashes import check_names
from taskgen_codegen.generate.client import client_files
from taskgen_codegen.generate.config import BuildConfig
from taskgen_codegen.generate.files import OutputFile
from taskgen_codegen.generate.formatting import format_python
from taskgen_codegen.generate.scaffold import handler_paths, worker_files
from taskgen_codegen.generate.writer import Report, apply, write_file


def build(config: BuildConfig, *, check: bool = False) -> Report:
    """Build (or with ``check``, compare) the client package and the worker scaffold."""
    model = load_contracts(config.contracts_path)
    return build_model(model, config, check=check)


def build_model(model: ContractModel, config: BuildConfig, *, check: bool = False) -> Report:
    """Render and write the files of an already loaded contract model, then the lock file."""
    check_names(model, config)
    lock = lock_of(model)
    path = config.lock_path
    previous = accepted_lock(path)  # an unreadable lock is simply rewritten
    recorded = compare(previous, lock) if previous is not None else []
    lineages = lineage_of(previous, lock, recorded)
    files = render_files(model, config, lineages)
    report = apply(files, check=check, orphans=orphaned_handlers(model, config))
    report.recorded = recorded
    lock = with_lineage(lock, lineages)
    report.changes.append(write_file(OutputFile(path.parent, path.name, encode_lock(lock)), check))
    return report


def render_files(
    model: ContractModel, config: BuildConfig, lineages: Mapping[str, Lineage] | None = None
) -> list[OutputFile]:
    """Every file of the build, in memory; ``lineages`` from the lock, by wire name."""
    files = [*client_files(model, config, lineages or {}), *worker_files(model, config)]
    python = format_python(files, first_party=[config.worker_package])
    if config.ts_out is None:
        return python
    # imported here: the TypeScript generator imports this package's modules itself
    from taskgen_codegen.typescript.package import typescript_files

    return [*python, *typescript_files(model, config)]


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
