"""The rules agree with msgspec: every fixture pair, run through the real types in both directions.

A classification that disagrees with what msgspec does (or with what a call of the old shape
does against the new signature) fails here; see tests/agreement.py for the experiment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from taskgen.contract.compat import compare
from taskgen.contract.lock import lock_of
from tests.agreement import disagreement, experiment, import_module, iter_pairs
from tests.test_evolution import FIXTURES, load

PAIRS = {name: (before, after) for name, before, after in iter_pairs(FIXTURES)}


@pytest.mark.parametrize("case", sorted(PAIRS))
def test_each_fixture_pair_is_classified_as_msgspec_behaves(case: str, tmp_path: Path) -> None:
    before, after = PAIRS[case]
    findings = compare(lock_of(load(tmp_path, before)), lock_of(load(tmp_path, after)))
    seen = experiment(import_module(before), import_module(after))
    problem = disagreement(findings, seen)
    assert not problem, f"{case}: {problem}"
