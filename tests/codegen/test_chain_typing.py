"""Chains, groups and chords are typed end to end: mypy --strict accepts correct compositions
over the generated client and rejects each wrong one with the message marked on its line."""

from __future__ import annotations

import shutil

from tests.codegen.test_typing import SNIPPETS, expected_errors, mypy, shop
from tests.support import Built

__all__ = ["shop"]


def test_correct_chains_groups_and_chords_pass_mypy_strict(shop: Built) -> None:
    shutil.copy(SNIPPETS / "chains_ok.py", shop.root / "chains_ok.py")
    assert mypy(shop, "chains_ok.py") == {}


def test_wrong_compositions_fail_mypy_with_the_expected_messages(shop: Built) -> None:
    shutil.copy(SNIPPETS / "chains_wrong.py", shop.root / "chains_wrong.py")
    errors = mypy(shop, "chains_wrong.py")
    expected = expected_errors(SNIPPETS / "chains_wrong.py")
    assert expected, "the snippet marks no expected errors"
    for place, message in expected.items():
        assert message in errors.get(place, []), f"line {place[1]}: {errors.get(place)}"
    assert set(errors) == set(expected), f"errors on unmarked lines: {errors}"
