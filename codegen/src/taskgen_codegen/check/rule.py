"""What a rule of ``taskgen check`` is: the directions it breaks, its severity, its docs and help.

Every rule is derived from one model of a rolling deploy (docs/evolution.md). Values cross
between the two contracts in two directions, and code written against the old client is
compiled against the new one:

- ``OLD_TO_NEW``: what the old contract wrote, read by the new one. For arguments: payloads
  that old clients queued (waiting, delayed, retrying) and send during the deploy, decoded by
  new workers. For results: old workers' results, decoded by new clients.
- ``NEW_TO_OLD``: what the new contract writes, read by the old one. For arguments: new
  clients' payloads reaching old workers. For results: new workers' results reaching old
  clients.
- ``SOURCE``: code written against the old generated client (callers, constructors, readers),
  type-checked and run against the new one.

A rule names the directions it can break, and its severity follows from them: a break of
``OLD_TO_NEW`` cannot be avoided by any deploy order (queued payloads are already written), nor
can a break of both wire directions, nor a break of code; a break of ``NEW_TO_OLD`` alone has a
safe order, the decoding side first, so it is a warning.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

Severity = Literal["compatible", "warning", "breaking"]
Family = Literal["WIRE", "SOURCE"]
#: Whether a value is a task's arguments, its result or its progress reports: it decides who
#: decodes it (a worker decodes arguments; a client decodes results and progress).
Position = Literal["args", "result", "progress"]

#: Severities from the least to the most serious.
SEVERITIES: tuple[Severity, ...] = ("compatible", "warning", "breaking")


class Direction(enum.Enum):
    """Where a change can break, in the model of a rolling deploy."""

    OLD_TO_NEW = "old-to-new"
    NEW_TO_OLD = "new-to-old"
    SOURCE = "source"

    def describe(self, position: Position) -> str:
        """Who writes and who reads, for arguments or for results."""
        return _DESCRIBED[self, position]


_DESCRIBED = {
    (Direction.OLD_TO_NEW, "args"): "payloads of old clients (also queued ones) into new workers",
    (Direction.OLD_TO_NEW, "result"): "results of old workers into new clients",
    (Direction.NEW_TO_OLD, "args"): "payloads of new clients into old workers",
    (Direction.NEW_TO_OLD, "result"): "results of new workers into old clients",
    (Direction.SOURCE, "args"): "code written against the old client",
    (Direction.SOURCE, "result"): "code written against the old client",
    (Direction.OLD_TO_NEW, "progress"): "progress reports of old workers into new clients",
    (Direction.NEW_TO_OLD, "progress"): "progress reports of new workers into old clients",
    (Direction.SOURCE, "progress"): "code written against the old client and handlers",
}

OLD_TO_NEW, NEW_TO_OLD, SOURCE = Direction.OLD_TO_NEW, Direction.NEW_TO_OLD, Direction.SOURCE
Directions = frozenset[Direction]


def safe_order(position: Position) -> str:
    """The deploy order that avoids a break of ``NEW_TO_OLD`` alone."""
    if position in ("result", "progress"):
        return "deploy the clients first, then the workers"
    return "deploy the workers first, then the clients"


@dataclass(frozen=True)
class Rule:
    """One kind of change: its id, what it can break, its docs row and its explanation."""

    id: str
    breaks: Directions
    #: What the change means (the docs table's "what it means").
    summary: str
    #: The safe way to make the change (the docs table's "what to do instead").
    remedy: str
    #: A minimal contract before and after the change, for ``taskgen check --explain``.
    before: str
    after: str
    #: The break is silent: values decode but land in the wrong place or mean something else.
    silent: bool = False
    #: Set only where the model's severity is overridden, with the reason in the summary.
    fixed_severity: Severity | None = None

    @property
    def family(self) -> Family:
        return "WIRE" if self.id.startswith("WIRE_") else "SOURCE"

    @property
    def severity(self) -> Severity:
        """Breaking unless only ``NEW_TO_OLD`` breaks (a warning) or nothing does."""
        if self.fixed_severity is not None:
            return self.fixed_severity
        if not self.breaks:
            return "compatible"
        return "warning" if self.breaks == {NEW_TO_OLD} else "breaking"

    def directions_cell(self) -> str:
        """The rule's directions as the docs table spells them."""
        names = [d.value for d in Direction if d in self.breaks]
        return ", ".join(names) + (" (silent)" if self.silent else "") if names else "none"

    def docs_row(self) -> str:
        """The rule's row in docs/evolution.md's table of every rule."""
        cells = (
            f"`{self.id}`",
            self.family,
            self.severity,
            self.directions_cell(),
            self.summary,
            self.remedy,
        )
        return "| " + " | ".join(cells) + " |"

    def explain(self) -> str:
        """The rule, what breaks, a minimal before/after, and the safe way (``--explain``)."""
        lines = [f"{self.id} ({self.family}, {self.severity})", "", self.summary, ""]
        if self.breaks:
            lines.append("Breaks:")
            for direction in Direction:
                if direction in self.breaks:
                    where = {direction.describe("args"), direction.describe("result")}
                    lines.append(f"  {direction.value}: {' / '.join(sorted(where))}")
            if self.silent:
                lines.append("  silently: the values decode, but mean something else")
        else:
            lines.append("Breaks: nothing, in any direction.")
        lines += ["", "Before:", _indent(self.before), "", "After:", _indent(self.after)]
        lines += ["", f"Instead: {self.remedy}"]
        if self.breaks == {NEW_TO_OLD}:
            lines.append(
                f"Order: in a parameter, {safe_order('args')}; "
                f"in a return type, {safe_order('result')}."
            )
        return "\n".join(lines)


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.strip("\n").splitlines())
