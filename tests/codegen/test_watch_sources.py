"""Which changed files rebuild under ``taskgen build --watch``: every file of a real build, one
by one, as the build left it and once a person has saved it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from taskgen_codegen.dev.watch import Builder
from tests.support import REPO


@pytest.fixture
def built(tmp_path: Path) -> Builder:
    shutil.copytree(
        REPO / "contracts", tmp_path / "contracts", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    builder = Builder(tmp_path, {})
    assert builder.build().ok
    return builder


def _saved(path: Path) -> Path:
    """The file as after a person saved it: same content, a later mtime."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    return path.resolve()


def test_every_file_of_a_build_is_a_source_only_if_the_build_reads_it(built: Builder) -> None:
    root = built.root
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    contracts, worker = root / "contracts", root / "build" / "worker"
    assert any(p.is_relative_to(root / "build" / "shop_tasks") for p in files)
    for path in files:
        reads = path == root / "pyproject.toml" or (
            path.suffix == ".py" and (path.is_relative_to(contracts) or path.is_relative_to(worker))
        )
        # What the build just wrote is no edit, whoever owns it from now on ...
        fresh = path.is_relative_to(root / "build")
        assert built.is_source(path.resolve()) == (reads and not fresh), path
        # ... but a save of it is, when the build reads it.
        assert built.is_source(_saved(path)) == reads, path


def test_a_deleted_handler_rebuilds_and_the_bindings_rewritten_for_it_do_not(
    built: Builder, tmp_path: Path
) -> None:
    handler = tmp_path / "build" / "worker" / "handlers" / "emails" / "count_subscribers.py"
    handler.unlink()
    assert built.is_source(handler.resolve())

    contract = tmp_path / "contracts" / "emails.py"
    text = contract.read_text()
    contract.write_text(text[: text.index('@task(queue="emails")\ndef count_subscribers')])
    assert built.build().ok
    # the bindings no longer import the handler module: rewritten, and not an edit
    bindings = tmp_path / "build" / "worker" / "bindings.py"
    assert "count_subscribers" not in bindings.read_text()
    assert not built.is_source(bindings.resolve())
