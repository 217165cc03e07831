"""A task's progress type in the lock and in ``taskgen check``: recorded per task, compared like
a result (a worker writes it, a client reads it), and absent from locks written before it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from taskgen_codegen.check import rules as R
from taskgen_codegen.check.compat import breaks_by_task, compare
from taskgen_codegen.check.lineage import lineage_of
from taskgen_codegen.check.lock import decode_lock, encode_lock, lock_of
from taskgen_codegen.contract import load_contracts
from taskgen_codegen.contract.model import ContractModel
from tests.support import CONTRACTS, REPO

GOLDEN_LOCK = REPO / "tests" / "golden" / "contracts" / "taskgen.lock"

HEADER = """\
import msgspec

from taskgen import task

"""


def load(root: Path, source: str) -> ContractModel:
    folder = root / "contracts"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "jobs.py").write_text(HEADER + textwrap.dedent(source))
    return load_contracts(folder)


def step(fields: str, progress: str = "Step") -> str:
    """A contract whose one task reports a ``Step`` with these fields (one per line)."""
    body = "\n".join(f"    {line}" for line in fields.splitlines())
    return (
        f"\nclass Step(msgspec.Struct):\n{body}\n\n\n"
        f"@task(progress={progress})\ndef encode(path: str) -> str: ...\n"
    )


def findings(tmp_path: Path, before: str, after: str) -> list[tuple[str, str, str]]:
    old = lock_of(load(tmp_path / "old", before))
    new = lock_of(load(tmp_path / "new", after))
    return [(f.rule.id, f.position, f.reason) for f in compare(old, new)]


def test_a_lock_written_before_progress_types_still_loads(tmp_path: Path) -> None:
    """The example's lock without its one progress entry: the task reads as declaring none,
    and the contract that declares one is a source change of that task."""
    document = json.loads(GOLDEN_LOCK.read_text(encoding="utf-8"))
    for task in document["tasks"].values():
        task.pop("progress", None)
    old = decode_lock(json.dumps(document), "taskgen.lock")
    assert all(task.progress is None for task in old.tasks.values())
    new = lock_of(load_contracts(CONTRACTS))
    assert new.tasks["emails.send_newsletter"].progress is not None
    found = [(f.rule, f.anchor) for f in compare(old, new)]
    assert found == [(R.SOURCE_PROGRESS_TYPE_ADDED, ("task", "emails.send_newsletter"))]


def test_the_lock_records_the_progress_type_and_reads_it_back() -> None:
    lock = lock_of(load_contracts(CONTRACTS))
    text = encode_lock(lock)
    assert text == GOLDEN_LOCK.read_text(encoding="utf-8")
    entry = json.loads(text)["tasks"]["emails.send_newsletter"]
    assert entry["progress"] == {"kind": "ref", "name": "Sending"}
    assert "Sending" in entry["types"]
    assert "progress" not in json.loads(text)["tasks"]["emails.send_email"]
    assert decode_lock(text, "taskgen.lock") == lock


def test_a_bad_progress_node_in_a_lock_is_refused_with_its_line(tmp_path: Path) -> None:
    text = GOLDEN_LOCK.read_text(encoding="utf-8")
    broken = text.replace('"progress": {"kind": "ref", "name": "Sending"}', '"progress": 3')
    assert broken != text
    lines = broken.splitlines()
    line = next(i for i, row in enumerate(lines, 1) if '"progress": 3' in row)
    try:
        decode_lock(broken, "taskgen.lock")
    except Exception as exc:  # LockError
        assert str(exc).startswith(f"taskgen.lock:{line}: a type must be an object")
        assert '.tasks["emails.send_newsletter"].progress' in str(exc)
    else:
        raise AssertionError("a number where a type belongs was read")


def test_the_fingerprint_covers_the_progress_type_only_where_declared(tmp_path: Path) -> None:
    plain = step("frames: int").replace("@task(progress=Step)", "@task")
    first = load(tmp_path / "a", step("frames: int"))
    again = load(tmp_path / "b", step("frames: int"))
    other = load(tmp_path / "c", step("frames: str"))
    none = load(tmp_path / "d", plain)
    assert first.tasks[0].fingerprint == again.tasks[0].fingerprint
    assert first.tasks[0].fingerprint != other.tasks[0].fingerprint
    assert none.tasks[0].fingerprint != first.tasks[0].fingerprint
    # Without one, the fingerprint is computed as before progress types existed: the goldens
    # (tests/golden/*/taskgen.lock) pin every other task's fingerprint unchanged.


def test_a_field_the_reader_needs_removed_breaks_old_clients(tmp_path: Path) -> None:
    found = findings(tmp_path, step("frames: int\ntotal: int"), step("frames: int"))
    assert [(rule, position) for rule, position, _ in found] == [("WIRE_FIELD_REMOVED", "progress")]


def test_a_changed_field_type_breaks_both_ways(tmp_path: Path) -> None:
    found = findings(tmp_path, step("frames: int"), step("frames: str"))
    assert [(rule, position) for rule, position, _ in found] == [("WIRE_TYPE_CHANGED", "progress")]


def test_a_widened_progress_type_is_a_warning_with_the_clients_first(tmp_path: Path) -> None:
    found = findings(tmp_path, step("frames: int"), step("frames: float"))
    assert len(found) == 1
    rule, position, reason = found[0]
    assert (rule, position) == ("WIRE_TYPE_WIDENED", "progress")
    assert reason.endswith("deploy the clients first, then the workers")


def test_a_field_added_with_a_default_is_compatible(tmp_path: Path) -> None:
    found = findings(tmp_path, step("frames: int"), step("frames: int\nnote: str = ''"))
    assert [(rule, position) for rule, position, _ in found] == [("WIRE_FIELD_ADDED", "progress")]


def test_declaring_and_dropping_a_progress_type_are_source_changes(tmp_path: Path) -> None:
    plain = step("frames: int").replace("@task(progress=Step)", "@task")
    added = findings(tmp_path / "added", plain, step("frames: int"))
    dropped = findings(tmp_path / "dropped", step("frames: int"), plain)
    assert [(r, p) for r, p, _ in added] == [("SOURCE_PROGRESS_TYPE_ADDED", "progress")]
    assert [(r, p) for r, p, _ in dropped] == [("SOURCE_PROGRESS_TYPE_REMOVED", "progress")]
    assert R.SOURCE_PROGRESS_TYPE_ADDED.severity == "breaking"


def test_a_progress_break_is_a_break_of_the_task_in_the_registrys_lineage(tmp_path: Path) -> None:
    """A new worker whose progress an old client cannot read does not share its queue with it
    as compatible: the lineage drops the old fingerprint from ``accepts``."""
    old = lock_of(load(tmp_path / "old", step("frames: int")))
    new = lock_of(load(tmp_path / "new", step("frames: float")))
    found = compare(old, new)
    breaks = breaks_by_task(old, new, found)
    assert breaks["jobs.encode"] == {(R.NEW_TO_OLD, "progress")}
    lineage = lineage_of(old, new, found)["jobs.encode"]
    assert lineage.accepts == () and lineage.decoded_by == (old.tasks["jobs.encode"].fingerprint,)


def test_the_check_command_reports_a_progress_change_at_the_field(tmp_path: Path) -> None:
    shutil.copytree(CONTRACTS, tmp_path / "contracts")
    source = tmp_path / "contracts" / "emails.py"
    source.write_text(source.read_text().replace("    total: int\n", "    total: str\n"))
    result = subprocess.run(
        [sys.executable, "-m", "taskgen", "check", "contracts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(
        i
        for i, row in enumerate(source.read_text().splitlines(), 1)
        if row.startswith("    total: str")
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"contracts/emails.py:{line}: breaking WIRE_TYPE_CHANGED" in result.stdout
    assert "type Sending, field total: type changed from int to str" in result.stdout
