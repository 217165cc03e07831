"""Python source parsed into syntax trees, safe from finalizers that parse too."""

from __future__ import annotations

import ast
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# CPython 3.11 keeps the depth counter of the tree it is building in interpreter-wide state.
# A garbage collection during a parse can run a finalizer that parses as well (asyncio's
# "Task was destroyed" report formats a traceback, and 3.11's traceback parses the failing
# line): the outer parse then fails with "SystemError: AST constructor recursion depth
# mismatch". No collection runs while one of ours builds its tree.
_one_at_a_time = threading.Lock()


@contextmanager
def _no_collection() -> Iterator[None]:
    with _one_at_a_time:
        collecting = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if collecting:
                gc.enable()


def parse_module(source: str, filename: str = "<unknown>") -> ast.Module:
    """The syntax tree of a module's source; raises ``SyntaxError`` as ``ast.parse`` does."""
    with _no_collection():
        return ast.parse(source, filename)


def parse_expression(source: str) -> ast.Expression:
    """The syntax tree of one expression; raises ``SyntaxError`` as ``ast.parse`` does."""
    with _no_collection():
        return ast.parse(source, mode="eval")
