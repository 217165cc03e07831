"""Negative typing tests: tsc --strict rejects misuse of the generated client, each misuse with
the error code written on its line in misuse/misuse.ts (mypy-protobuf's way, for TypeScript)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import Built
from tests.typescript.conftest import typescript_app
from tests.typescript.node import tsc

MISUSE = Path(__file__).with_name("misuse")
ERROR = re.compile(r"misuse\.ts\((\d+),\d+\): error (TS\d+):")


def expected_errors(source: str) -> set[tuple[int, str]]:
    """(line, code) for each ``// TSxxxx`` comment."""
    return {
        (number, code)
        for number, line in enumerate(source.splitlines(), 1)
        for code in re.findall(r"// (TS\d+)$", line)
    }


def test_tsc_rejects_each_misuse_with_the_expected_error(
    shop_ts: tuple[Built, Path], tmp_path: Path
) -> None:
    app = typescript_app(MISUSE, tmp_path, shop_ts[1])
    done = tsc(app, "--noEmit", "--pretty", "false")
    found = {(int(line), code) for line, code in ERROR.findall(done.stdout)}
    wanted = expected_errors((MISUSE / "misuse.ts").read_text())
    assert len(wanted) >= 12
    assert done.returncode != 0
    assert found == wanted, done.stdout


def test_the_misuse_file_without_its_misuses_compiles(
    shop_ts: tuple[Built, Path], tmp_path: Path
) -> None:
    """Each expected error comes from its own line, not from a broken file."""
    app = typescript_app(MISUSE, tmp_path, shop_ts[1])
    source = (app / "misuse.ts").read_text().splitlines()
    kept = [line for line in source if not re.search(r"// TS\d+$", line)]
    kept = [line for line in kept if not line.startswith("console.log")]
    (app / "misuse.ts").write_text("\n".join(kept) + "\n")
    done = tsc(app, "--noEmit", "--pretty", "false")
    assert done.returncode == 0, done.stdout
