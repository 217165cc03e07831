"""Where things are in contract source files, found by parsing them once."""

from __future__ import annotations

import ast
import inspect
import sys
from functools import cache
from pathlib import Path
from typing import Any

from taskgen_codegen.contract.errors import Location
from taskgen_codegen.syntax import parse_module


class SourceIndex:
    """Maps contract objects to ``file:line`` locations relative to the project root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def relative(self, filename: str) -> str:
        """A path relative to the project root, with forward slashes, for stable output."""
        path = Path(filename).resolve()
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def of(self, obj: Any) -> Location | None:
        """The location of a class or function, at its ``class``/``def`` line; of a NewType
        or alias, at the assignment that names it."""
        try:
            filename = inspect.getsourcefile(obj)
        except TypeError:
            return self._assigned(obj)
        if filename is None:
            return None
        node = _definitions(filename).get(getattr(obj, "__qualname__", ""))
        line = node.lineno if node else _first_line(obj)
        return Location(self.relative(filename), line)

    def _assigned(self, obj: Any) -> Location | None:
        module = sys.modules.get(getattr(obj, "__module__", ""))
        filename = getattr(module, "__file__", None)
        line = _assignments(filename).get(getattr(obj, "__name__", "")) if filename else None
        return Location(self.relative(filename), line) if filename and line else None

    def field_line(self, cls: type, field: str) -> int | None:
        """The line that annotates ``field``: in the class, or in the base (in the same file)
        that declares it; else the class line."""
        own = self._class_node(cls)
        if own is None:
            return None
        owner = self.field_owner(cls, field)
        node = self._class_node(owner) if owner is not None else own
        return (_annotated(node, field) if node else None) or own.lineno

    def field_owner(self, cls: type, field: str) -> type | None:
        """The base class, in the same file, whose body declares an inherited ``field``."""
        own = self._class_node(cls)
        if own is None or _annotated(own, field):
            return None
        for base in cls.__mro__[1:]:
            node = self._class_node(base) if _same_file(base, cls) else None
            if node is not None and _annotated(node, field):
                return base
        return None

    @staticmethod
    def _class_node(cls: type) -> ast.ClassDef | None:
        try:
            filename = inspect.getsourcefile(cls)
        except TypeError:
            return None
        node = _definitions(filename).get(cls.__qualname__) if filename else None
        return node if isinstance(node, ast.ClassDef) else None

    def function_node(self, fn: Any) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The parsed definition of a function, to inspect its body."""
        try:
            filename = inspect.getsourcefile(fn)
        except TypeError:
            return None
        node = _definitions(filename).get(fn.__qualname__) if filename else None
        return node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None


Node = ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef


@cache
def _definitions(filename: str) -> dict[str, Node]:
    """Every class and function of a file, by qualified name."""
    tree = parse_module(Path(filename).read_text(encoding="utf-8"), filename)
    found: dict[str, Node] = {}

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for stmt in body:
            if isinstance(stmt, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                found[prefix + stmt.name] = stmt
                if isinstance(stmt, ast.ClassDef):
                    walk(stmt.body, f"{prefix}{stmt.name}.")

    walk(tree.body, "")
    return found


@cache
def _assignments(filename: str) -> dict[str, int]:
    """The line of each module-level ``name = ...`` (and ``type name = ...``) in a file."""
    tree = parse_module(Path(filename).read_text(encoding="utf-8"), filename)
    found: dict[str, int] = {}
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        if isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        if type(stmt).__name__ == "TypeAlias":
            targets = [getattr(stmt, "name")]  # noqa: B009 - ast.TypeAlias is Python 3.12+
        for target in targets:
            if isinstance(target, ast.Name):
                found.setdefault(target.id, stmt.lineno)
    return found


def _first_line(obj: Any) -> int:
    try:
        return inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return 0


def forget_sources() -> None:
    """Drop parsed files, so a later load sees edited sources."""
    _definitions.cache_clear()
    _assignments.cache_clear()


def _annotated(node: ast.ClassDef, field: str) -> int | None:
    """The line on which a class body annotates ``field``, if it does."""
    for stmt in node.body:
        target = stmt.target if isinstance(stmt, ast.AnnAssign) else None
        if isinstance(target, ast.Name) and target.id == field:
            return stmt.lineno
    return None


def _same_file(a: type, b: type) -> bool:
    try:
        return inspect.getsourcefile(a) == inspect.getsourcefile(b)
    except TypeError:
        return False
