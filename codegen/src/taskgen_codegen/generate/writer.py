"""Putting a build on disk, or comparing it with what is there (``--check``).

Rules that keep a user's work safe:
- a user-owned file (handler, entry point) is created when missing and never touched again;
- a generated file is rewritten only when its content changed;
- a file is removed only if the previous build's manifest lists it *and* it still starts with
  the generated-file header (or is still empty, as the py.typed marker is); anything else is
  reported and left alone.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from taskgen_codegen.check.compat import Finding
from taskgen_codegen.generate.files import GENERATED_MARK, MANIFEST, OutputFile


@dataclass(frozen=True)
class Change:
    """What a build does, or would do, to one path."""

    kind: str  # created, updated, removed, unchanged, kept, left, orphaned
    path: Path
    diff: str = ""
    note: str = ""


@dataclass
class Report:
    """Everything one build did (or, in check mode, would do)."""

    changes: list[Change] = field(default_factory=list)
    #: What the new lock file records beyond the previous one, as ``taskgen check`` sees it.
    recorded: list[Finding] = field(default_factory=list)

    def of(self, *kinds: str) -> list[Change]:
        return [c for c in self.changes if c.kind in kinds]

    @property
    def stale(self) -> bool:
        """True when the files on disk differ from what the build produces."""
        return bool(self.of("created", "updated", "removed"))


def apply(
    files: Iterable[OutputFile], *, check: bool = False, orphans: Iterable[Path] = ()
) -> Report:
    """Write (or, with ``check``, compare) every file; roots get a fresh manifest."""
    report = Report()
    by_root: dict[Path, list[OutputFile]] = {}
    for f in files:
        by_root.setdefault(f.root, []).append(f)
    for root, group in sorted(by_root.items()):
        _apply_root(root, group, check, report)
    for path in sorted(orphans):
        report.changes.append(
            Change("orphaned", path, note="its task is no longer in the contract; kept as it is")
        )
    return report


def _apply_root(root: Path, files: list[OutputFile], check: bool, report: Report) -> None:
    generated = sorted(f.path for f in files if not f.user_owned)
    manifest = OutputFile(root, MANIFEST, _manifest(generated))
    previous = _read_manifest(root / MANIFEST)
    for f in sorted([*files, manifest], key=lambda f: f.path):
        report.changes.append(write_file(f, check))
    for path in sorted(previous - set(generated)):
        report.changes.append(_remove(root / path, check))


def write_file(f: OutputFile, check: bool) -> Change:
    """Write one file (or, with ``check``, say how it differs); user-owned files only once."""
    target = f.target
    exists = target.is_file()
    if f.user_owned and exists:
        return Change("kept", target)
    current = target.read_text(encoding="utf-8") if exists else None
    if current == f.content:
        return Change("unchanged", target)
    # only --check shows the diff; a build of many files would spend its time on it
    diff = "".join(
        difflib.unified_diff(
            (current or "").splitlines(keepends=True),
            f.content.splitlines(keepends=True),
            fromfile=f"a/{f.path}" if exists else "/dev/null",
            tofile=f"b/{f.path}",
        )
        if check
        else ()
    )
    if not check:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.content, encoding="utf-8", newline="\n")
    return Change(
        "updated" if exists else "created",
        target,
        diff,
        "yours from now on" if f.user_owned else "",
    )


def _remove(target: Path, check: bool) -> Change:
    if not target.is_file():
        return Change("unchanged", target, note="listed in the manifest, already gone")
    text = target.read_text(encoding="utf-8", errors="replace")
    # an empty file (the py.typed marker) carries no header, and holds nothing of the user's
    if text and GENERATED_MARK not in text.partition("\n")[0]:
        return Change("left", target, note="no longer generated, but edited (header gone): kept")
    diff = "".join(
        difflib.unified_diff(text.splitlines(keepends=True), [], f"a/{target.name}", "/dev/null")
    )
    if not check:
        target.unlink()
    return Change("removed", target, diff)


def _manifest(paths: list[str]) -> str:
    lines = "".join(f"{p}\n" for p in paths)
    return (
        f"# {GENERATED_MARK}: the files it wrote here. It rewrites or removes only these,\n"
        "# and removes one only while it still carries the generated-file header.\n"
        f"{lines}"
    )


def _read_manifest(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and ".." not in Path(line.strip()).parts
    }
