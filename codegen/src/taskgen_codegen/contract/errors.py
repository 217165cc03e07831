"""Contract problems as values: what is wrong, where, and what to do about it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

from taskgen.errors import TaskgenError


class Location(msgspec.Struct, frozen=True, order=True):
    """A place in a contract source file."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with a contract; errors stop the build, warnings do not."""

    message: str
    location: Location | None = None
    task: str | None = None
    hint: str | None = None
    level: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        subject = f"task {self.task}: " if self.task else ""
        text = f"{where}{self.level}: {subject}{self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class ContractError(TaskgenError):
    """The contracts cannot be built; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Unsupported(TaskgenError):
    """A type or default that a contract cannot carry, with the nearest thing that works."""

    def __init__(
        self, message: str, hint: str | None = None, location: Location | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location
