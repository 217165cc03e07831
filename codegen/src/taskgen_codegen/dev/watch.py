"""Rebuilding on change: ``taskgen build --watch``, and the heart of ``taskgen dev``.

A build reads the contracts, ``[tool.taskgen]`` and the handlers (whose extra parameters the
bindings pass on), so a change to any of them rebuilds. What a build writes itself (the client,
the bindings, new handler stubs, the lock) is no edit and triggers nothing.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import typer
import watchfiles

from taskgen_codegen.cli_build import relative
from taskgen_codegen.contract import ContractError
from taskgen_codegen.generate import BuildConfig, ConfigError, Report, build, load_config

#: Milliseconds without a new event that end a burst: an editor's save is several events.
QUIET_MS = 200
#: The longest a burst is gathered before rebuilding anyway.
BURST_MS = 1600
#: What a build did to files, in the words of its line.
_VERBS = {"created": "created", "updated": "updated", "removed": "removed", "left": "left alone"}
#: How often a quiet watch returns control, so ``taskgen dev`` can look after its processes.
TICK_MS = 300


@dataclass(frozen=True)
class Rebuild:
    """One build's outcome: its report, or the error that stopped it."""

    report: Report | None
    error: ContractError | ConfigError | None = None

    @property
    def ok(self) -> bool:
        return self.report is not None

    def changed(self, under: Path) -> bool:
        """True when the build wrote or removed a file under ``under``."""
        assert self.report is not None
        folder = under.resolve()
        return any(
            c.path.resolve().is_relative_to(folder)
            for c in self.report.of("created", "updated", "removed")
        )


class Builder:
    """Builds one project again and again, each time with its current ``[tool.taskgen]``."""

    def __init__(self, root: Path, overrides: Mapping[str, str | None]) -> None:
        self.root = root
        self.overrides = dict(overrides)
        self.config: BuildConfig | None = None
        # The contracts are imported again at each build: a module edited twice within one
        # second at the same size would be read back from a stale bytecode cache (keyed on
        # whole-second mtimes), so none is written.
        sys.dont_write_bytecode = True
        #: What the last build wrote, with the mtime it left: its own writes are not edits.
        self._written: dict[Path, int | None] = {}

    def configure(self) -> None:
        """Read ``[tool.taskgen]`` (a broken one is reported by the first build)."""
        with contextlib.suppress(ConfigError):
            self.config = load_config(self.root, **self.overrides)

    def build(self) -> Rebuild:
        """Build now; a broken contract or configuration is reported, not raised."""
        try:
            self.config = load_config(self.root, **self.overrides)
            report = build(self.config)
        except (ContractError, ConfigError) as exc:
            return Rebuild(None, exc)
        self._written = {
            c.path.resolve(): _mtime(c.path) for c in report.of("created", "updated", "removed")
        }
        return Rebuild(report)

    def watched(self) -> list[Path]:
        """The existing folders and files whose changes call for a rebuild."""
        paths = [self.root / "pyproject.toml"]
        if self.config is not None:
            paths += [self.config.contracts_path]
            if self.config.worker_path is not None:
                paths.append(self.config.worker_path)
        return sorted({p.resolve() for p in paths if p.exists()})

    def is_source(self, path: Path) -> bool:
        """True for an edit of a file the build reads: ``pyproject.toml``, a contract module, or
        a module of the worker's (its handlers) that the last build did not write itself."""
        if path == (self.root / "pyproject.toml").resolve():
            return True
        if path.suffix != ".py" or self.config is None:
            return False
        if path in self._written and self._written[path] == _mtime(path):
            return False
        folders = [self.config.contracts_path, self.config.worker_path]
        return any(f is not None and path.is_relative_to(f.resolve()) for f in folders)


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def rebuilds(builder: Builder) -> Iterator[tuple[list[Path], Rebuild] | None]:
    """Build, then again after each burst of source changes: yields what changed and the
    build's outcome, or ``None`` on a quiet tick. Ends only when nothing is left to watch.

    A build is reported only once the watch over its paths is in place, so an edit made as soon
    as the caller has seen the outcome is never missed."""
    builder.configure()
    due: list[Path] | None = []  # what the next build is for; None while none is due
    done: tuple[list[Path], Rebuild] | None = None
    while paths := builder.watched():
        with contextlib.closing(_changes(paths, builder)) as bursts:
            for changed in bursts:  # the first comes once the watch is set: a tick at the latest
                if done is not None:
                    yield done
                    done = None
                if changed:
                    due = sorted({*(due or ()), *changed})
                if due is None:
                    yield None
                    continue
                cause, due = due, None
                result = builder.build()
                # A new folder (made by the build, or moved by [tool.taskgen]) must be watched
                # before the build is reported; so must a watched file that an editor replaced
                # (saved as a new file), since the old watch follows the file that is gone.
                if builder.watched() != paths or set(cause) & set(paths):
                    done = (cause, result)
                    break
                yield cause, result


def _changes(paths: list[Path], builder: Builder) -> Generator[list[Path]]:
    """Bursts of changed source files, sorted; an empty list every quiet ``TICK_MS``."""
    for burst in watchfiles.watch(
        *paths,
        debounce=BURST_MS,
        step=QUIET_MS,
        rust_timeout=TICK_MS,
        yield_on_timeout=True,
    ):
        yield sorted({Path(p) for _, p in burst if builder.is_source(Path(p))})


def summary(changed: list[Path], result: Rebuild) -> str:
    """One line for a build: when, what started it, and what it did."""
    stamp = time.strftime("%H:%M:%S")
    cause = _cause(changed)
    if result.error is not None:
        return f"{stamp} {cause}: build failed, {_problems(result.error)}"
    assert result.report is not None
    counts = {verb: len(result.report.of(kind)) for kind, verb in _VERBS.items()}
    done = ", ".join(f"{n} {verb}" for verb, n in counts.items() if n) or "nothing to change"
    serious = [f for f in result.report.recorded if f.severity != "compatible"]
    lock = f" (the lock records {len(serious)} change(s) to review)" if serious else ""
    return f"{stamp} {cause}: built, {done}{lock}"


def _cause(changed: list[Path]) -> str:
    if not changed:
        return "start"
    first = relative(changed[0])
    return first if len(changed) == 1 else f"{first} and {len(changed) - 1} more"


def _problems(error: ContractError | ConfigError) -> str:
    if isinstance(error, ContractError):
        return f"{len(error.problems)} problem(s) in the contracts"
    return "configuration error"


def report(changed: list[Path], result: Rebuild) -> None:
    """Print a build's line, and under it the problems (``file:line: ...``) if it failed."""
    if result.error is None:
        typer.echo(summary(changed, result))
        return
    typer.secho(summary(changed, result), fg="red", err=True)
    typer.echo(str(result.error), err=True)


def watch_build(root: Path, overrides: Mapping[str, str | None]) -> int:
    """``taskgen build --watch``: build, then rebuild on every change until Ctrl-C."""
    builder = Builder(root, overrides)
    try:
        for event in rebuilds(builder):
            if event is None:
                continue
            changed, result = event
            report(changed, result)
            if not changed:
                typer.echo("watching for changes (Ctrl-C to stop)")
    except KeyboardInterrupt:
        return 0
    typer.secho(f"taskgen build --watch: nothing to watch in {relative(root)}", fg="red", err=True)
    return 2
