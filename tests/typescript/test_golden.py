"""Golden output of ``taskgen build --ts-out``: the npm package of the top-level contracts/,
byte for byte, and ``taskgen build --check`` treats it like the Python client.

After an intended change to the TypeScript generator or its runtime, rewrite the golden and
commit it with the change:

    TASKGEN_UPDATE_GOLDEN=1 ./dev test tests/typescript/test_golden.py
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

from taskgen_codegen.generate import BuildConfig, build
from tests.support import CONTRACTS

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "typescript" / "shop_ts"
UPDATE = os.environ.get("TASKGEN_UPDATE_GOLDEN") == "1"


def _config(root: Path) -> BuildConfig:
    return BuildConfig(
        contracts="contracts",
        client_package="shop_tasks",
        worker_out=None,
        ts_out="shop_ts",
        lock="taskgen.lock",
        root=str(root),
    )


def _build(root: Path) -> Path:
    shutil.copytree(CONTRACTS, root / "contracts", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "contracts" / "taskgen.lock").unlink(missing_ok=True)
    build(_config(root))
    return root / "shop_ts"


def _files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_npm_package_matches_the_golden(tmp_path: Path) -> None:
    built = _files(_build(tmp_path))
    if UPDATE:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for path, text in built.items():
            (GOLDEN / path).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / path).write_text(text, encoding="utf-8", newline="\n")
    golden = _files(GOLDEN)
    assert sorted(built) == sorted(golden)
    for path, text in built.items():
        diff = "".join(
            difflib.unified_diff(
                golden[path].splitlines(keepends=True), text.splitlines(keepends=True), path, path
            )
        )
        assert not diff, f"{path} differs from the golden:\n{diff}"


def test_a_second_build_changes_nothing_and_check_finds_a_stale_file(tmp_path: Path) -> None:
    package = _build(tmp_path)
    first = _files(package)
    report = build(_config(tmp_path))
    assert not report.stale
    assert _files(package) == first
    (package / "src" / "tasks.ts").write_text("// edited\n")
    stale = build(_config(tmp_path), check=True)
    assert [c.path.name for c in stale.of("updated")] == ["tasks.ts"]
    (package / "src" / "runtime" / "client.ts").unlink()
    assert "client.ts" in [c.path.name for c in build(_config(tmp_path), check=True).of("created")]
