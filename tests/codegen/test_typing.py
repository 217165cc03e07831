"""The types hold: mypy --strict accepts correct use of the generated code and rejects misuse
with the messages written next to each wrong line (``# E: <message>``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Built, build_contracts, implement_handlers

SNIPPETS = Path(__file__).resolve().parents[1] / "typing"
EXPECTED = re.compile(r"#\s*E:\s*(.+?)\s*$")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    built = build_contracts(tmp_path_factory.mktemp("typed"))
    implement_handlers(built)
    yield built


def mypy(built: Built, *targets: str) -> dict[tuple[str, int], list[str]]:
    """Run mypy --strict; its errors by (file name, line)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--hide-error-context",
            "--cache-dir",
            str(built.root / ".mypy_cache"),
            *targets,
        ],
        cwd=built.root,
        env=built.env(MYPYPATH=str(built.client_dir)),
        capture_output=True,
        text=True,
    )
    errors: dict[tuple[str, int], list[str]] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"(.+?):(\d+): error: (.+?)(?:  \[[a-z-]+\])?$", line)
        if match:
            key = (Path(match[1]).name, int(match[2]))
            errors.setdefault(key, []).append(match[3])
    return errors


def expected_errors(path: Path) -> dict[tuple[str, int], str]:
    found = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = EXPECTED.search(line)
        if match:
            found[(path.name, number)] = match[1]
    return found


def test_generated_code_and_correct_backend_pass_mypy_strict(shop: Built) -> None:
    shutil.copy(SNIPPETS / "backend_ok.py", shop.root / "backend_ok.py")
    errors = mypy(shop, "-p", "shop_tasks", "-p", "worker", "backend_ok.py")
    assert errors == {}


def test_misuse_fails_mypy_with_the_expected_messages(shop: Built) -> None:
    shutil.copy(SNIPPETS / "backend_wrong.py", shop.root / "backend_wrong.py")
    errors = mypy(shop, "backend_wrong.py")
    expected = expected_errors(SNIPPETS / "backend_wrong.py")
    assert expected, "the snippet marks no expected errors"
    for place, message in expected.items():
        assert message in errors.get(place, []), f"line {place[1]}: {errors.get(place)}"
    assert set(errors) == set(expected), "mypy reported errors on unmarked lines"


def test_a_handler_reporting_progress_of_the_wrong_type_fails_mypy(shop: Built) -> None:
    """A task with a progress type takes only that type; one without takes only a number."""
    shutil.copy(SNIPPETS / "handler_progress_wrong.py", shop.root / "handler_progress_wrong.py")
    errors = mypy(shop, "handler_progress_wrong.py")
    expected = expected_errors(SNIPPETS / "handler_progress_wrong.py")
    assert len(expected) == 4
    for place, message in expected.items():
        assert message in errors.get(place, []), f"line {place[1]}: {errors.get(place)}"
    assert set(errors) == set(expected), "mypy reported errors on unmarked lines"


def test_a_handler_that_drifts_from_the_contract_fails_mypy(shop: Built) -> None:
    handler = shop.worker_dir / "handlers" / "billing" / "charge.py"
    original = handler.read_text(encoding="utf-8")
    try:
        handler.write_text(
            original.replace("*, idempotency_key: str", "*, idempotency_key: int"),
            encoding="utf-8",
        )
        errors = mypy(shop, "-p", "worker")
    finally:
        handler.write_text(original, encoding="utf-8")
    messages = [m for (file, _), ms in errors.items() if file == "bindings.py" for m in ms]
    assert messages == [
        'Argument "idempotency_key" to "charge" has incompatible type "str"; expected "int"'
    ]


def test_a_handler_that_takes_the_untyped_context_for_a_typed_task_fails_mypy(
    shop: Built,
) -> None:
    """The bindings pass a ProgressContext[Sending]: a handler asking for a Context is refused."""
    handler = shop.worker_dir / "handlers" / "emails" / "send_newsletter.py"
    original = handler.read_text(encoding="utf-8")
    try:
        handler.write_text(
            original.replace("ctx: ProgressContext[Sending]", "ctx: Context")
            .replace("import ProgressContext", "import Context")
            .replace("ctx.progress(Sending(sent=sent, total=total))", "ctx.progress(sent)"),
            encoding="utf-8",
        )
        errors = mypy(shop, "-p", "worker")
    finally:
        handler.write_text(original, encoding="utf-8")
    # Only this handler's line: mypy's cache may still hold another test's edit of a handler
    # restored within the same second at the same size.
    messages = [
        m
        for (file, _), ms in errors.items()
        if file == "bindings.py"
        for m in ms
        if "send_newsletter" in m
    ]
    assert messages == [
        'Argument 1 to "send_newsletter" has incompatible type "ProgressContext[Sending]"; '
        'expected "Context"'
    ]
