"""``taskgen build``: run a build and tell the user, in plain words, what it did."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from taskgen_codegen.check.rules import Direction
from taskgen_codegen.contract import ContractError
from taskgen_codegen.generate import ConfigError, Report, build, load_config

_VERBS = {
    "created": "created",
    "updated": "updated",
    "removed": "removed",
    "left": "left alone",
    "orphaned": "orphaned handler",
}


def run_build(root: Path, *, check: bool, **overrides: str | None) -> int:
    """Build or check; returns the exit code (0 ok, 1 stale in check mode, 2 errors)."""
    try:
        config = load_config(root, **overrides)
        report = build(config, check=check)
    except (ContractError, ConfigError) as exc:
        typer.secho(f"taskgen build: {_count(exc)}", fg="red", err=True)
        typer.echo(str(exc), err=True)
        return 2
    return _check_report(report) if check else _build_report(report)


def _build_report(report: Report) -> int:
    for change in report.changes:
        if change.kind in _VERBS:
            note = f"  ({change.note})" if change.note else ""
            typer.echo(f"{_VERBS[change.kind]:>18}  {relative(change.path)}{note}")
    for kind, label in (("unchanged", "unchanged"), ("kept", "kept (yours)")):
        count = len(report.of(kind))
        if count:
            typer.echo(f"{label:>18}  {count} file(s)")
    _lock_notes(report)
    return 0


def _lock_notes(report: Report) -> None:
    """What the rewritten lock records that someone must act on: on the wire, or in code."""
    serious = [f for f in report.recorded if f.severity != "compatible"]
    wire = [f for f in serious if f.directions - {Direction.SOURCE}]
    source = [f for f in serious if f not in wire]
    notes = (
        (wire, "on the wire that old clients or workers may not survive"),
        (source, "that break code written against the old client (the wire is unaffected)"),
    )
    for findings, what in notes:
        if not findings:
            continue
        typer.secho(
            f"the lock file now records {len(findings)} change(s) {what}; review its diff "
            "before committing (`taskgen check --explain RULE` explains each rule):",
            fg="yellow",
            err=True,
        )
        for finding in findings:
            typer.echo(f"  {finding.severity} {finding.rule.id} {finding.subject}", err=True)


def _check_report(report: Report) -> int:
    for change in report.of("orphaned", "left"):
        typer.echo(f"note: {_VERBS[change.kind]} {relative(change.path)}: {change.note}")
    stale = report.of("created", "updated", "removed")
    if not stale:
        typer.echo("taskgen build --check: generated files are up to date")
        return 0
    for change in stale:
        label = {"created": "missing", "updated": "changed", "removed": "extra"}[change.kind]
        typer.echo(f"{label}: {relative(change.path)}")
        if change.diff:
            sys.stdout.write(change.diff if change.diff.endswith("\n") else change.diff + "\n")
    typer.secho(
        f"taskgen build --check: {len(stale)} file(s) out of date; run `taskgen build`",
        fg="red",
        err=True,
    )
    return 1


def _count(exc: Exception) -> str:
    if isinstance(exc, ContractError):
        return f"{len(exc.problems)} problem(s) in the contracts"
    return "configuration error"


def relative(path: Path) -> str:
    """The path as the user would type it: relative when under the current folder."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(absolute)
