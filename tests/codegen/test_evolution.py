"""Each rule of ``taskgen check`` fires on a contract change, at the line it names.

Every rule has a folder tests/fixtures/evolution/<rule id, lowercase>/ with ``before.py`` and
``after.py``: one contract module each, loaded as ``contracts/jobs.py``. A trailing comment
``# <- RULE_ID`` marks the line a finding must point at (``# <- A, B`` for several, ``A x2``
for two of one rule): in ``after.py``, or in ``before.py`` for what is gone (a removed task or
parameter). The findings must be exactly the marked ones.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from taskgen_codegen.check.compat import compare
from taskgen_codegen.check.locate import locate, model_locations
from taskgen_codegen.check.lock import decode_lock, encode_lock, lock_of
from taskgen_codegen.check.rules import NEW_TO_OLD, RULES
from taskgen_codegen.contract import load_contracts
from taskgen_codegen.contract.model import ContractModel

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "evolution"
DOC = REPO / "docs" / "evolution.md"
EVERY_TYPE = REPO / "tests" / "fixtures" / "every_type"
MARK = re.compile(r"#\s*<-\s*(.+?)\s*$")
ITEM = re.compile(r"^([A-Z_]+)(?:\s+x(\d+))?$")
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name != "__pycache__")

#: A finding as the test sees it: rule id, fixture file (before.py or after.py), line.
Spot = tuple[str, str, int]


def load(tmp_path: Path, source: Path) -> ContractModel:
    """Load one fixture module as ``<tmp>/contracts/jobs.py``."""
    folder = tmp_path / source.stem / "contracts"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    shutil.copyfile(source, folder / "jobs.py")
    return load_contracts(folder)


def marked(source: Path) -> Counter[Spot]:
    """The findings a fixture file expects, from its ``# <- RULE_ID`` comments."""
    spots: Counter[Spot] = Counter()
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if match := MARK.search(line):
            for item in match.group(1).split(","):
                parsed = ITEM.match(item.strip())
                assert parsed, f"{source}:{number}: cannot read the mark {item!r}"
                rule, times = parsed.groups()
                spots[rule, source.name, number] += int(times or 1)
    return spots


@pytest.mark.parametrize("case", CASES)
def test_rule_fires_where_marked(case: str, tmp_path: Path) -> None:
    before_py, after_py = FIXTURES / case / "before.py", FIXTURES / case / "after.py"
    before, after = load(tmp_path, before_py), load(tmp_path, after_py)
    findings = compare(lock_of(before), lock_of(after))
    # `taskgen check` reads the old side back from the lock file: it must see the same.
    assert compare(decode_lock(encode_lock(lock_of(before)), "before"), lock_of(after)) == findings
    tables = {"old": model_locations(before), "new": model_locations(after)}
    found: Counter[Spot] = Counter()
    for finding in findings:
        where = locate(finding, tables[finding.side])
        assert where is not None, f"{finding.rule.id} {finding.subject}: no location"
        assert where.file == "contracts/jobs.py"
        source = before_py if finding.side == "old" else after_py
        found[finding.rule.id, source.name, where.line] += 1
    expected = marked(before_py) + marked(after_py)
    assert case.upper() in {rule for rule, _, _ in expected}, "the folder's own rule is unmarked"
    missing, unexpected = (
        sorted((expected - found).elements()),
        sorted((found - expected).elements()),
    )
    reasons = "\n".join(f"  {f.severity} {f.rule.id} {f.subject}: {f.reason}" for f in findings)
    assert not missing and not unexpected, f"missing {missing}, unexpected {unexpected}:\n{reasons}"


@pytest.mark.parametrize("case", CASES)
def test_an_unchanged_contract_has_no_findings(case: str, tmp_path: Path) -> None:
    source = FIXTURES / case / "after.py"
    first = lock_of(load(tmp_path / "first", source))
    again = lock_of(load(tmp_path / "again", source))
    assert encode_lock(first) == encode_lock(again)
    assert compare(first, again) == []


def test_every_type_read_back_from_its_lock_has_no_findings() -> None:
    lock = lock_of(load_contracts(EVERY_TYPE))
    assert compare(decode_lock(encode_lock(lock), "every_type"), lock) == []


def test_every_rule_has_a_fixture() -> None:
    assert sorted(CASES) == sorted(rule.lower() for rule in RULES)


def test_the_docs_table_has_every_rule_as_the_rule_objects_write_it() -> None:
    """Each rule's row (family, severity, directions, meaning, remedy) comes from its object."""
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    assert rows == [rule.docs_row() for rule in RULES.values()]


def test_each_severity_follows_from_the_directions_a_rule_breaks() -> None:
    """Breaking unless only new-to-old breaks (a deploy order avoids it): overrides say why."""
    for rule in RULES.values():
        if rule.fixed_severity is None:
            expected = (
                "compatible"
                if not rule.breaks
                else "warning"
                if rule.breaks == {NEW_TO_OLD}
                else "breaking"
            )
            assert rule.severity == expected, rule.id
        else:
            assert "so it is" in rule.summary or "reported as" in rule.summary, rule.id


def test_the_docs_name_only_rules_that_exist() -> None:
    named = set(re.findall(r"\b(?:WIRE|SOURCE)_[A-Z_]+\b", DOC.read_text(encoding="utf-8")))
    assert named <= set(RULES), f"docs/evolution.md names {sorted(named - set(RULES))}"
