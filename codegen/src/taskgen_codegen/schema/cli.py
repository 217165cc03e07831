"""``taskgen schema``: write the JSON Schemas and the AsyncAPI document of the contracts."""

from __future__ import annotations

from pathlib import Path

import typer

from taskgen_codegen.cli_build import relative
from taskgen_codegen.contract import ContractError, load_contracts
from taskgen_codegen.generate import ConfigError, load_config
from taskgen_codegen.generate.writer import apply
from taskgen_codegen.schema.files import schema_files


def run_schema(root: Path, contracts: str | None, out: str | None, check: bool) -> int:
    """Write (or with ``check`` compare) the schema files; the exit code (0, 1 stale, 2 error)."""
    try:
        config = load_config(root, contracts=contracts, schema_out=out)
        model = load_contracts(config.contracts_path)
    except (ContractError, ConfigError) as exc:
        typer.secho("taskgen schema: the contracts cannot be read", fg="red", err=True)
        typer.echo(str(exc), err=True)
        return 2
    target = config.root_path / config.schema_out
    files = schema_files(model, config.contracts_path, target, config.client_version)
    report = apply(files, check=check)
    stale = report.of("created", "updated", "removed")
    if check:
        for change in stale:
            typer.echo(f"out of date: {relative(change.path)}")
        if stale:
            typer.secho(
                f"taskgen schema --check: {len(stale)} file(s) out of date; run `taskgen schema`",
                fg="red",
                err=True,
            )
            return 1
        typer.echo("taskgen schema --check: schema files are up to date")
        return 0
    for change in stale:
        typer.echo(f"{change.kind:>10}  {relative(change.path)}")
    typer.echo(f"{len(files) - 1} JSON Schema file(s) and asyncapi.json in {relative(target)}")
    return 0
