"""Generated Python goes through the real formatter: ruff, pinned by this distribution.

Templates write plain code, one construct a line, imports in any order; ruff sorts and groups
the imports and lays out the lines. One ruff call covers every file of a build, so a build of
hundreds of files pays for one process, not one per file.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from ruff.__main__ import find_ruff_bin

from taskgen.errors import TaskgenError
from taskgen_codegen.generate.files import OutputFile

#: The settings generated code is formatted with, whatever the project's own ruff config says.
LINE_LENGTH = 88
TARGET = "py311"


class FormatError(TaskgenError):
    """The formatter refused a generated file: a bug in a template, not in the contract."""


def format_python(files: Iterable[OutputFile], first_party: Iterable[str]) -> list[OutputFile]:
    """``files`` with every ``.py`` file's content sorted and formatted by ruff."""
    files = list(files)
    python = [i for i, f in enumerate(files) if f.path.endswith(".py")]
    with tempfile.TemporaryDirectory(prefix="taskgen-format-") as folder:
        work = Path(folder)
        paths = {i: work / f"f{i:05d}.py" for i in python}
        for i, path in paths.items():
            path.write_text(files[i].content, encoding="utf-8")
        known = ", ".join(f'"{name}"' for name in sorted(set(first_party)))
        _ruff(
            work,
            "check",
            "--fix-only",
            "--select",
            "I",
            "--config",
            f"lint.isort.known-first-party = [{known}]",
        )
        _ruff(work, "format", "--line-length", str(LINE_LENGTH))
        for i, path in paths.items():
            files[i] = replace(files[i], content=path.read_text(encoding="utf-8"))
    return files


def _ruff(folder: Path, command: str, *options: str) -> None:
    done = subprocess.run(
        [
            find_ruff_bin(),
            command,
            "--isolated",
            "--no-cache",
            "--quiet",
            "--target-version",
            TARGET,
            *options,
            str(folder),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise FormatError(f"ruff {command} failed on generated code:\n{done.stdout}{done.stderr}")
