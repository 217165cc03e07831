"""What a comparison produces (``Finding``) and what its parts share (``Diff``)."""

from __future__ import annotations

from dataclasses import dataclass

from taskgen_codegen.check.lock import Lock
from taskgen_codegen.check.rules import NEW_TO_OLD, Directions, Position, Rule, Severity, safe_order

#: Where a finding points: ("task", wire name), ("param", wire name, parameter),
#: ("type", name), ("field", type, field) or ("member", type, member).
Anchor = tuple[str, ...]

#: A comparison of a named type of the old lock with one of the new, in one position:
#: (old name, new name, position). Its findings concern the tasks whose comparison reaches it.
Pairing = tuple[str, str, str]


@dataclass(frozen=True)
class Place:
    """What is being compared: its name in a message, its anchor, and whose value it is."""

    subject: str
    anchor: Anchor
    position: Position = "args"

    def inside(self, subject: str, anchor: Anchor) -> Place:
        """A part of this value (a field of its type), in the same position."""
        return Place(subject, anchor, self.position)


@dataclass(frozen=True)
class Finding:
    """One change between two contracts: its rule, what it breaks, and where it is."""

    rule: Rule
    subject: str
    reason: str
    anchor: Anchor
    #: Which contract the anchor is in: "new", or "old" for something that is gone.
    side: str = "new"
    #: The directions this change breaks: the rule's own, or fewer where the case is milder.
    directions: Directions = frozenset()
    #: Whether the value is a task's arguments or its result (who decodes it).
    position: Position = "args"
    #: The tasks (by new wire name) this change concerns: whose comparison reaches it.
    tasks: frozenset[str] = frozenset()

    @property
    def severity(self) -> Severity:
        return self.rule.severity


class Diff:
    """The state of one comparison: both locks and the findings so far."""

    def __init__(self, old: Lock, new: Lock) -> None:
        self.old = old
        self.new = new
        self.findings: list[Finding] = []
        #: The named-type comparison each finding was made in (None: a task's own).
        self.pairings: list[Pairing | None] = []
        self._pairing: Pairing | None = None

    def add(
        self,
        rule: Rule,
        place: Place,
        reason: str,
        *,
        directions: Directions | None = None,
        side: str = "new",
    ) -> None:
        """Record a finding; ``directions`` narrows the rule's own for a milder case."""
        broken = rule.breaks if directions is None else directions
        assert broken <= rule.breaks, f"{rule.id} cannot break {set(broken - rule.breaks)}"
        if rule.breaks == {NEW_TO_OLD} and rule.fixed_severity is None:
            reason = f"{reason}; {safe_order(place.position)}"
        self.findings.append(
            Finding(rule, place.subject, reason, place.anchor, side, broken, place.position)
        )
        self.pairings.append(self._pairing)
