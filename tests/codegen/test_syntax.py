"""Parsing contract sources survives a finalizer that parses during the parse (CPython 3.11)."""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from taskgen_codegen.check.defaults import wire_default
from taskgen_codegen.check.lock import lock_of
from taskgen_codegen.contract import load_contracts
from taskgen_codegen.syntax import parse_expression, parse_module


class _Reparser:
    """Garbage whose finalizer parses, as asyncio's report of a destroyed pending task does
    on 3.11 (its traceback parses the failing line), and leaves the next one behind."""

    armed = True

    def __init__(self) -> None:
        self.cycle = self  # only a collection frees it

    def __del__(self) -> None:
        ast.parse("await reader.read(65536)[0]", mode="eval")
        if _Reparser.armed:
            _Reparser()


@contextmanager
def parsing_finalizers() -> Iterator[None]:
    """A collection at every allocation, each running a finalizer that parses (a context, not
    a fixture: pytest parses too when it reports a failure, which must happen after it)."""
    threshold = gc.get_threshold()
    _Reparser.armed = True
    _Reparser()
    gc.set_threshold(1)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        _Reparser.armed = False
        gc.collect()


SOURCE = "\n".join(f"def f{i}(x):\n    return [x, (x, {{x: x}})]" for i in range(50))


def test_a_module_and_an_expression_parse_whatever_the_collector_runs() -> None:
    with parsing_finalizers():
        module = parse_module(SOURCE, "many.py")
        expression = parse_expression("dict[str, list[tuple[int, ...]]]")
        collecting = gc.isenabled()
    assert len(module.body) == 50
    assert isinstance(expression.body, ast.Subscript)
    assert collecting  # the collector is back on after each parse


def test_a_contract_loads_and_its_lock_reads_defaults_whatever_the_collector_runs(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "jobs.py").write_text(
        "import enum\n\nimport msgspec\n\nfrom taskgen import task\n\n\n"
        "class Color(enum.Enum):\n    RED = 'red'\n\n\n"
        "class Paint(msgspec.Struct):\n    color: Color = Color.RED\n    coats: int = 2\n\n\n"
        "@task()\n"
        "async def paint(job: Paint, tries: list[int] | None = None) -> dict[str, int]: ...\n"
    )
    with parsing_finalizers():
        model = load_contracts(folder)
        lock = lock_of(model)
        default = wire_default("Color.RED", lock)
    assert [t.name for t in model.tasks] == ["paint"]
    assert default == "'red'"
