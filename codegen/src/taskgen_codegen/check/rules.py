"""The rules ``taskgen check`` applies to a contract change, each with its id and severity.

WIRE rules ask whether messages still decode, in both directions of a rolling deploy: payloads
that old clients queued reaching new workers, and payloads from new clients reaching old
workers (and results going the other way). SOURCE rules ask whether code written against the
old generated client still type-checks and runs against the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["compatible", "warning", "breaking"]
Family = Literal["WIRE", "SOURCE"]

#: Severities from the least to the most serious.
SEVERITIES: tuple[Severity, ...] = ("compatible", "warning", "breaking")


@dataclass(frozen=True)
class Rule:
    """One kind of change and what it means for a rolling deploy."""

    id: str
    severity: Severity
    summary: str

    @property
    def family(self) -> Family:
        return "WIRE" if self.id.startswith("WIRE_") else "SOURCE"


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.id: r for r in rules}


RULES = _rules(
    Rule("WIRE_TASK_ADDED", "compatible", "a new task; old workers never see it"),
    Rule(
        "WIRE_TASK_REMOVED",
        "breaking",
        "queued and retrying payloads of the task reach workers that no longer run it",
    ),
    Rule(
        "WIRE_TASK_NAME_CHANGED",
        "breaking",
        "the wire name moves with the function when `name=` is not pinned; "
        "queued payloads carry the old one",
    ),
    Rule("WIRE_QUEUE_CHANGED", "breaking", "old clients enqueue where new workers do not read"),
    Rule("WIRE_PARAM_ADDED", "compatible", "a parameter with a default; old payloads get it"),
    Rule(
        "WIRE_PARAM_ADDED_REQUIRED",
        "breaking",
        "payloads from old clients lack the new parameter",
    ),
    Rule("WIRE_PARAM_REMOVED", "breaking", "old workers require what new clients stop sending"),
    Rule(
        "WIRE_DEFAULT_CHANGED",
        "breaking",
        "the two sides fill in different values for the same call",
    ),
    Rule("WIRE_TYPE_CHANGED", "breaking", "values of one side do not decode on the other"),
    Rule("WIRE_FIELD_ADDED", "compatible", "a field with a default; old messages get it"),
    Rule("WIRE_FIELD_ADDED_REQUIRED", "breaking", "messages from the old side lack the field"),
    Rule("WIRE_FIELD_REMOVED", "breaking", "the old side requires what the new side drops"),
    Rule(
        "WIRE_FIELD_REQUIRED",
        "breaking",
        "a field lost its default; messages that leave it out no longer decode",
    ),
    Rule(
        "WIRE_FIELD_MOVED",
        "breaking",
        "fields of an array_like Struct or NamedTuple travel by position",
    ),
    Rule(
        "WIRE_STRUCT_OPTION_CHANGED",
        "breaking",
        "array_like, tag, tag_field and forbid_unknown_fields change what decodes",
    ),
    Rule(
        "WIRE_ENUM_VALUE_ADDED",
        "warning",
        "old workers (or old clients, for results) reject the new value",
    ),
    Rule("WIRE_ENUM_VALUE_REMOVED", "breaking", "queued payloads may carry the removed value"),
    Rule(
        "WIRE_LITERAL_VALUE_ADDED",
        "warning",
        "old workers (or old clients, for results) reject the new value",
    ),
    Rule("WIRE_LITERAL_VALUE_REMOVED", "breaking", "queued payloads may carry the removed value"),
    Rule(
        "WIRE_UNION_OPTION_ADDED",
        "warning",
        "old workers (or old clients, for results) reject values of the new type",
    ),
    Rule(
        "WIRE_UNION_OPTION_REMOVED",
        "breaking",
        "queued payloads may carry values of the removed type",
    ),
    Rule(
        "WIRE_CONSTRAINT_CHANGED",
        "breaking",
        "a value valid on one side fails msgspec.Meta validation on the other",
    ),
    Rule(
        "WIRE_CONSTRAINT_REMOVED",
        "warning",
        "old workers (or old clients, for results) reject values the new side allows",
    ),
    Rule(
        "SOURCE_TASK_MOVED",
        "breaking",
        "the client method moved (module or function renamed with a pinned wire name)",
    ),
    Rule(
        "SOURCE_PARAM_KIND_CHANGED",
        "breaking",
        "callers passing the parameter by position, or by keyword, stop type-checking",
    ),
    Rule("SOURCE_PARAM_MOVED", "breaking", "positional callers pass arguments to the wrong place"),
    Rule(
        "SOURCE_PARAM_REQUIRED",
        "breaking",
        "a parameter lost its default; callers that leave it out stop type-checking",
    ),
    Rule("SOURCE_TYPE_RENAMED", "breaking", "the generated class has a new name; imports break"),
    Rule(
        "SOURCE_FIELD_RENAMED",
        "breaking",
        "the Python name changed but the wire name is pinned; constructors and readers break",
    ),
    Rule(
        "SOURCE_ENUM_MEMBER_RENAMED",
        "breaking",
        "the member's value is unchanged, its Python name is not",
    ),
    Rule(
        "SOURCE_STRUCT_OPTION_CHANGED",
        "warning",
        "frozen, order or eq changed: code relying on them may break",
    ),
)
