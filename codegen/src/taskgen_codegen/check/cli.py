"""``taskgen check``: can the contracts as they are share a queue with the accepted ones?"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec
import typer

from taskgen.errors import TaskgenError
from taskgen_codegen.check.compat import Finding, compare
from taskgen_codegen.check.lineage import without_lineage
from taskgen_codegen.check.locate import Locations, locate, lock_locations, model_locations
from taskgen_codegen.check.lock import Lock, LockError, accepted_lock, decode_lock, lock_of
from taskgen_codegen.check.rules import RULES, SEVERITIES, Direction, Severity
from taskgen_codegen.cli_build import relative
from taskgen_codegen.contract import ContractError, load_contracts
from taskgen_codegen.contract.errors import Location
from taskgen_codegen.generate import BuildConfig, ConfigError, load_config

Format = Literal["text", "github", "json"]

_ANNOTATION = {"breaking": "error", "warning": "warning", "compatible": "notice"}
_FORMATS: dict[str, Format] = {"text": "text", "github": "github", "json": "json"}
_FAIL_ON: dict[str, Severity] = {"breaking": "breaking", "warning": "warning"}


class CheckFailed(TaskgenError):
    """The check could not run; the message says why and what to do."""


@dataclass(frozen=True)
class Baseline:
    """What the contracts are compared with, and where its parts are written."""

    lock: Lock
    locations: Locations
    label: str


def run_check(
    root: Path,
    contracts: str | None,
    lock: str | None,
    against: str | None,
    output_name: str,
    fail_on_name: str,
) -> int:
    """Compare, print, and return the exit code: 0 fine, 1 changes that fail, 2 cannot check."""
    output, fail_on = _FORMATS.get(output_name), _FAIL_ON.get(fail_on_name)
    if output is None or fail_on is None:
        typer.secho(
            "taskgen check: --format is text, github or json; --fail-on is breaking or warning",
            fg="red",
            err=True,
        )
        return 2
    try:
        config = load_config(root, contracts=contracts, lock=lock)
        model = load_contracts(config.contracts_path)
        current = lock_of(model)
        baseline = _at_ref(config, against) if against else _from_lock(config)
    except (ContractError, ConfigError, LockError, CheckFailed) as exc:
        typer.secho("taskgen check: cannot check", fg="red", err=True)
        typer.echo(str(exc), err=True)
        return 2
    findings = compare(baseline.lock, current)
    here = model_locations(model)
    # A deliberate change is accepted by committing the lock file that records it.
    written = accepted_lock(config.lock_path)
    accepted = against is not None and written is not None and without_lineage(written) == current
    threshold = SEVERITIES.index(fail_on)
    failing = [f for f in findings if SEVERITIES.index(f.severity) >= threshold]
    places = [locate(f, baseline.locations if f.side == "old" else here) for f in findings]
    _print(output, findings, places, baseline.label, accepted)
    return 0 if not failing or accepted else 1


def explain_rule(rule_id: str) -> int:
    """Print what a rule means (``--explain``); 0, or 2 for an unknown rule."""
    rule = RULES.get(rule_id.strip().upper())
    if rule is None:
        typer.secho(
            f"taskgen check --explain: no rule {rule_id!r}; the rules are: {', '.join(RULES)}",
            fg="red",
            err=True,
        )
        return 2
    typer.echo(rule.explain())
    return 0


def _from_lock(config: BuildConfig) -> Baseline:
    path = config.lock_path
    if not path.is_file():
        raise CheckFailed(
            f"no lock file at {relative(path)}: run `taskgen build` to write it, commit it, "
            "and check against it from then on (or pass --against <git ref>)"
        )
    text = path.read_text(encoding="utf-8")
    lock = decode_lock(text, relative(path))
    return Baseline(lock, lock_locations(lock, text, relative(path)), relative(path))


def _at_ref(config: BuildConfig, ref: str) -> Baseline:
    """The contracts as they are at a git ref, loaded from a temporary copy."""
    folder = config.contracts_path.resolve()
    top = _git(folder.parent, "rev-parse", "--show-toplevel").decode().strip()
    if not folder.is_relative_to(Path(top).resolve()):
        raise CheckFailed(f"{folder} is not inside the git repository at {top}")
    inside = folder.relative_to(Path(top).resolve()).as_posix()
    archive = _git(Path(top), "archive", "--format=tar", ref, "--", inside)
    with tempfile.TemporaryDirectory(prefix="taskgen-check-") as temp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(temp, filter="data")
        old = load_contracts(Path(temp) / inside)
    locations = {
        anchor: Location(f"{where.file}@{ref}", where.line)
        for anchor, where in model_locations(old).items()
    }
    return Baseline(lock_of(old), locations, f"{inside}/ at {ref}")


def _git(cwd: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise CheckFailed("--against needs git, which is not on PATH") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise CheckFailed(f"git {' '.join(args[:2])}: {message}")
    return done.stdout


def _print(
    output: Format,
    findings: list[Finding],
    places: list[Location | None],
    label: str,
    accepted: bool,
) -> None:
    counts = {s: sum(f.severity == s for f in findings) for s in reversed(SEVERITIES)}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    if output == "json":
        rows = [
            {
                "rule": f.rule.id,
                "family": f.rule.family,
                "severity": f.severity,
                "breaks": [d.value for d in Direction if d in f.directions],
                "position": f.position,
                "subject": f.subject,
                "reason": f.reason,
                "file": where.file if where else None,
                "line": where.line if where else None,
            }
            for f, where in zip(findings, places, strict=True)
        ]
        document = {"against": label, "accepted": accepted, "counts": counts, "findings": rows}
        typer.echo(msgspec.json.format(msgspec.json.encode(document), indent=2).decode())
        return
    for finding, where in zip(findings, places, strict=True):
        if output == "github":
            place = f"file={where.file},line={where.line}," if where else ""
            typer.echo(
                f"::{_ANNOTATION[finding.severity]} {place}title={finding.rule.id}::"
                f"{finding.subject}: {finding.reason}"
            )
        else:
            prefix = f"{where}: " if where else ""
            typer.echo(
                f"{prefix}{finding.severity} {finding.rule.id} {finding.subject}: {finding.reason}"
            )
    if not findings:
        typer.echo(f"taskgen check: no changes against {label}")
        return
    typer.echo(f"taskgen check: {summary} against {label}")
    if accepted and counts["breaking"]:
        typer.echo("accepted: the lock file in this change records them")
