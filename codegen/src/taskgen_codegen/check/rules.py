"""Every rule of ``taskgen check``, each one object (see ``rule.py`` for the model they follow).

The comparison refers to these objects, never to ids as strings; ``RULES`` lists them for the
docs table, ``--explain`` and the tests, which require a fixture and a docs row for each.
"""

from __future__ import annotations

from taskgen_codegen.check.rule import (
    NEW_TO_OLD,
    OLD_TO_NEW,
    SEVERITIES,
    SOURCE,
    Direction,
    Directions,
    Position,
    Rule,
    Severity,
    safe_order,
)

BOTH = frozenset({OLD_TO_NEW, NEW_TO_OLD})
NONE: Directions = frozenset()

# -- tasks ------------------------------------------------------------------------------------

WIRE_TASK_ADDED = Rule(
    "WIRE_TASK_ADDED",
    frozenset({NEW_TO_OLD}),
    "A new task. Old workers have no handler for it, but only code written for the new client "
    "enqueues it, so it is reported as compatible.",
    "Deploy the workers that run it before the clients that enqueue it.",
    "def ping(host: str) -> bool: ...",
    "def ping(host: str) -> bool: ...\n\n\n@task\ndef trace(host: str) -> list[str]: ...",
    fixed_severity="compatible",
)
WIRE_TASK_REMOVED = Rule(
    "WIRE_TASK_REMOVED",
    frozenset({OLD_TO_NEW, SOURCE}),
    "A task is gone: its queued, delayed and retrying payloads reach workers with no handler "
    "for it.",
    "Keep it and its handler until none of its payloads is left; then remove it and accept.",
    "@task\ndef trace(host: str) -> list[str]: ...",
    "# trace removed",
)
WIRE_TASK_NAME_CHANGED = Rule(
    "WIRE_TASK_NAME_CHANGED",
    BOTH,
    "The same function has another wire name (its `name=` pin changed or was dropped); queued "
    "payloads carry the old one.",
    "Keep `name=` at the old wire name.",
    '@task(name="jobs.ping")\ndef ping(host: str) -> bool: ...',
    '@task(name="jobs.ping.v2")\ndef ping(host: str) -> bool: ...',
)
WIRE_QUEUE_CHANGED = Rule(
    "WIRE_QUEUE_CHANGED",
    BOTH,
    "The task moved to another queue; what is queued on the old one waits for a worker that "
    "no longer reads it.",
    "Keep a worker on the old queue until it drains, or declare a new task on the new queue.",
    '@task(queue="network")\ndef ping(host: str) -> bool: ...',
    '@task(queue="probes")\ndef ping(host: str) -> bool: ...',
)
WIRE_NAME_SWAPPED = Rule(
    "WIRE_NAME_SWAPPED",
    BOTH,
    "A name that exists on both sides now maps to another wire key, value or task: two fields "
    "swapped their `msgspec.field(name=...)`, two Enum members their values, two tasks their "
    "pinned `name=`. Every message still decodes, with the meanings swapped.",
    "Never reuse a wire key, value or task name for something else: add a new one, migrate, "
    "then remove the old one.",
    'class Toggle(msgspec.Struct):\n    on: bool = msgspec.field(name="a")\n'
    '    off: bool = msgspec.field(name="b")',
    'class Toggle(msgspec.Struct):\n    on: bool = msgspec.field(name="b")\n'
    '    off: bool = msgspec.field(name="a")',
    silent=True,
)
SOURCE_TASK_MOVED = Rule(
    "SOURCE_TASK_MOVED",
    frozenset({SOURCE}),
    "The function was renamed or moved under a pinned wire name: the client method moved; "
    "payloads are fine.",
    "Update the callers in the same change, and accept.",
    '@task(name="jobs.ping")\ndef ping(host: str) -> bool: ...',
    '@task(name="jobs.ping")\ndef probe(host: str) -> bool: ...',
)

SOURCE_PROGRESS_TYPE_ADDED = Rule(
    "SOURCE_PROGRESS_TYPE_ADDED",
    frozenset({SOURCE}),
    "The task now declares a progress type: its handlers report values of it instead of a "
    "number, and `handle.progress()` returns it. On the wire the change is mild: a new client "
    "reads an old worker's numeric report as no progress yet (None), an old client reads a new "
    "worker's typed report as 0.0.",
    "Update the handlers and the code that reads `handle.progress()` in the same change.",
    "@task\ndef encode(path: str) -> str: ...",
    "class Step(msgspec.Struct):\n    frames: int\n\n\n"
    "@task(progress=Step)\ndef encode(path: str) -> str: ...",
)
SOURCE_PROGRESS_TYPE_REMOVED = Rule(
    "SOURCE_PROGRESS_TYPE_REMOVED",
    frozenset({SOURCE}),
    "The task no longer declares a progress type: its handlers report a number and a message, "
    "and `handle.progress()` returns a `Progress`. On the wire an old worker's typed report "
    "reads as 0.0, and a new worker's numeric report as None in an old client.",
    "Update the handlers and the code that reads `handle.progress()` in the same change.",
    "class Step(msgspec.Struct):\n    frames: int\n\n\n"
    "@task(progress=Step)\ndef encode(path: str) -> str: ...",
    "@task\ndef encode(path: str) -> str: ...",
)

# -- parameters -------------------------------------------------------------------------------

WIRE_PARAM_ADDED = Rule(
    "WIRE_PARAM_ADDED",
    NONE,
    "A parameter with a default, at the end or keyword-only: old payloads get the default, old "
    "workers ignore it.",
    "Nothing.",
    "def ping(host: str) -> bool: ...",
    "def ping(host: str, *, port: int = 80) -> bool: ...",
)
WIRE_PARAM_ADDED_REQUIRED = Rule(
    "WIRE_PARAM_ADDED_REQUIRED",
    frozenset({OLD_TO_NEW, SOURCE}),
    "A parameter without a default: payloads from old clients lack it, and old calls stop "
    "type-checking.",
    "Give it a default.",
    "def ping(host: str) -> bool: ...",
    "def ping(host: str, port: int) -> bool: ...",
)
WIRE_PARAM_REMOVED = Rule(
    "WIRE_PARAM_REMOVED",
    frozenset({NEW_TO_OLD, SOURCE}),
    "A parameter is gone: old workers still require it if it had no default, and calls that "
    "pass it stop type-checking.",
    "Give it a default first, stop passing it, then remove it and accept.",
    "def ping(host: str, port: int) -> bool: ...",
    "def ping(host: str) -> bool: ...",
)
WIRE_DEFAULT_CHANGED = Rule(
    "WIRE_DEFAULT_CHANGED",
    BOTH,
    "A field's default changed in an `omit_defaults=True` Struct: a value equal to the "
    "writer's default is left out, and the reader fills in its own.",
    "Keep the default; or drop `omit_defaults` first (deployed everywhere), then change it.",
    "class Probe(msgspec.Struct, omit_defaults=True):\n    port: int = 80",
    "class Probe(msgspec.Struct, omit_defaults=True):\n    port: int = 443",
    silent=True,
)
SOURCE_DEFAULT_CHANGED = Rule(
    "SOURCE_DEFAULT_CHANGED",
    NONE,
    "A parameter's or field's default changed. Generated clients send every value, so the wire "
    "is unaffected; calls that leave it out now send the new default.",
    "Nothing, if the new default is meant for every caller.",
    "def ping(host: str, timeout: float = 1.0) -> bool: ...",
    "def ping(host: str, timeout: float = 5.0) -> bool: ...",
)
SOURCE_PARAM_KIND_CHANGED = Rule(
    "SOURCE_PARAM_KIND_CHANGED",
    frozenset({SOURCE}),
    "A parameter became keyword-only or positional-only; callers passing it the other way "
    "break. Loosening to positional-or-keyword is not reported.",
    "Keep its kind; make new parameters keyword-only from the start.",
    "def ping(host: str, port: int) -> bool: ...",
    "def ping(host: str, *, port: int) -> bool: ...",
)
SOURCE_PARAM_MOVED = Rule(
    "SOURCE_PARAM_MOVED",
    frozenset({SOURCE}),
    "A positional parameter is at another position (reordered, or a parameter inserted before "
    "it): existing positional calls type-check and pass their values to the wrong parameter.",
    "Keep the order; add parameters at the end or keyword-only.",
    'def label(text: str, color: str = "black") -> None: ...',
    'def label(text: str, font: str = "sans", color: str = "black") -> None: ...',
    silent=True,
)
SOURCE_PARAM_REQUIRED = Rule(
    "SOURCE_PARAM_REQUIRED",
    frozenset({SOURCE}),
    "A parameter lost its default; calls that leave it out stop type-checking (clients send "
    "every argument, so the wire is fine).",
    "Keep the default.",
    "def ping(host: str, port: int = 80) -> bool: ...",
    "def ping(host: str, port: int) -> bool: ...",
)

# -- types ------------------------------------------------------------------------------------

WIRE_TYPE_CHANGED = Rule(
    "WIRE_TYPE_CHANGED",
    BOTH,
    "Values of one side do not decode on the other: another type, a narrower one (`float` to "
    "`int`), or a type of another kind (an Enum that became a Struct).",
    "A new parameter or field with a default, a new type, or a new task.",
    "def ping(host: str, port: int) -> bool: ...",
    "def ping(host: str, port: str) -> bool: ...",
)
WIRE_TYPE_WIDENED = Rule(
    "WIRE_TYPE_WIDENED",
    frozenset({NEW_TO_OLD}),
    "A type accepts more (`int` to `float`, also inside a container): every old value decodes, "
    "but the old side rejects the new values.",
    "Upgrade the side that decodes first: the workers for arguments, the clients for results.",
    "def scale(factor: int) -> dict[str, int]: ...",
    "def scale(factor: float) -> dict[str, float]: ...",
)
SOURCE_TYPE_RENAMED = Rule(
    "SOURCE_TYPE_RENAMED",
    frozenset({SOURCE}),
    "The wire shape is unchanged but the spelling is not: a class renamed, a Struct turned into "
    "a dataclass or TypedDict, a plain type wrapped in a NewType.",
    "Update imports and annotations in the same change, and accept.",
    "class Probe(msgspec.Struct):\n    host: str",
    "class Target(msgspec.Struct):\n    host: str",
)
WIRE_UNION_OPTION_ADDED = Rule(
    "WIRE_UNION_OPTION_ADDED",
    frozenset({NEW_TO_OLD}),
    "A union accepts another type (also `X` becoming `X | None`); the old side rejects values "
    "of it.",
    "Upgrade the side that decodes first: the workers for arguments, the clients for results.",
    "def ping(port: int) -> float: ...",
    "def ping(port: int | str) -> float | None: ...",
)
WIRE_UNION_OPTION_REMOVED = Rule(
    "WIRE_UNION_OPTION_REMOVED",
    frozenset({OLD_TO_NEW}),
    "Queued payloads may carry values of the removed type.",
    "Keep the option; stop sending such values first.",
    "def ping(port: int | str) -> bool: ...",
    "def ping(port: int) -> bool: ...",
)
WIRE_ENUM_VALUE_ADDED = Rule(
    "WIRE_ENUM_VALUE_ADDED",
    frozenset({NEW_TO_OLD}),
    "A new member: old workers reject its value in arguments, old clients in results.",
    "Upgrade the side that decodes first: the workers for arguments, the clients for results.",
    'class Kind(enum.Enum):\n    ICMP = "icmp"',
    'class Kind(enum.Enum):\n    ICMP = "icmp"\n    TCP = "tcp"',
)
WIRE_ENUM_VALUE_REMOVED = Rule(
    "WIRE_ENUM_VALUE_REMOVED",
    frozenset({OLD_TO_NEW}),
    "Queued payloads may carry the removed value.",
    "Keep the member, stop sending it, and remove it when no payload carries it.",
    'class Kind(enum.Enum):\n    ICMP = "icmp"\n    TCP = "tcp"',
    'class Kind(enum.Enum):\n    ICMP = "icmp"',
)
SOURCE_ENUM_MEMBER_RENAMED = Rule(
    "SOURCE_ENUM_MEMBER_RENAMED",
    frozenset({SOURCE}),
    "A member's name changed, its value did not (and the old name is not used for another "
    "value, which would be `WIRE_NAME_SWAPPED`).",
    'Keep the old name as an alias next to the new one (`ICMP = "icmp"` after `ECHO = "icmp"`).',
    'class Kind(enum.Enum):\n    ICMP = "icmp"',
    'class Kind(enum.Enum):\n    ECHO = "icmp"',
)
WIRE_LITERAL_VALUE_ADDED = Rule(
    "WIRE_LITERAL_VALUE_ADDED",
    frozenset({NEW_TO_OLD}),
    "A new Literal value: old workers reject it in arguments, old clients in results.",
    "Upgrade the side that decodes first: the workers for arguments, the clients for results.",
    'def ping(mode: Literal["icmp"]) -> bool: ...',
    'def ping(mode: Literal["icmp", "tcp"]) -> bool: ...',
)
WIRE_LITERAL_VALUE_REMOVED = Rule(
    "WIRE_LITERAL_VALUE_REMOVED",
    frozenset({OLD_TO_NEW}),
    "Queued payloads may carry the removed value.",
    "Keep the value, stop sending it, and remove it when no payload carries it.",
    'def ping(mode: Literal["icmp", "tcp"]) -> bool: ...',
    'def ping(mode: Literal["icmp"]) -> bool: ...',
)
WIRE_CONSTRAINT_CHANGED = Rule(
    "WIRE_CONSTRAINT_CHANGED",
    BOTH,
    "`msgspec.Meta` constraints added, tightened or otherwise changed (a pattern, "
    "`multiple_of`, `tz`): queued values may fail them.",
    "Check the value in the handler, or add a new parameter.",
    "def ping(ttl: int) -> bool: ...",
    "def ping(ttl: Annotated[int, msgspec.Meta(ge=1)]) -> bool: ...",
)
WIRE_CONSTRAINT_REMOVED = Rule(
    "WIRE_CONSTRAINT_REMOVED",
    frozenset({NEW_TO_OLD}),
    "Constraints removed or relaxed (a lower `ge`, a higher `max_length`): the old side rejects "
    "values the new one allows.",
    "Upgrade the side that decodes first: the workers for arguments, the clients for results.",
    "def ping(ttl: Annotated[int, msgspec.Meta(ge=1)]) -> bool: ...",
    "def ping(ttl: Annotated[int, msgspec.Meta(ge=0)]) -> bool: ...",
)

# -- fields -----------------------------------------------------------------------------------

WIRE_FIELD_ADDED = Rule(
    "WIRE_FIELD_ADDED",
    NONE,
    "A field with a default: old messages get the default, old decoders ignore it (an "
    "`array_like` Struct takes it at the end only).",
    "Nothing.",
    "class Probe(msgspec.Struct):\n    host: str",
    "class Probe(msgspec.Struct):\n    host: str\n    port: int = 80",
)
WIRE_FIELD_ADDED_REQUIRED = Rule(
    "WIRE_FIELD_ADDED_REQUIRED",
    frozenset({OLD_TO_NEW, SOURCE}),
    "A field without a default: messages from the old side lack it, constructors that leave it "
    "out stop type-checking.",
    "Give it a default.",
    "class Probe(msgspec.Struct):\n    host: str",
    "class Probe(msgspec.Struct):\n    host: str\n    port: int",
)
WIRE_FIELD_ADDED_STRICT = Rule(
    "WIRE_FIELD_ADDED_STRICT",
    frozenset({NEW_TO_OLD}),
    "A field added to a NamedTuple (decoded only from an array of its own length) or to a "
    "`forbid_unknown_fields` Struct: old decoders reject every message of the new shape.",
    "Upgrade the side that decodes first: the workers for arguments, the clients for results.",
    "class Hop(typing.NamedTuple):\n    address: str",
    "class Hop(typing.NamedTuple):\n    address: str\n    millis: float = 0.0",
)
WIRE_FIELD_REMOVED = Rule(
    "WIRE_FIELD_REMOVED",
    frozenset({OLD_TO_NEW, NEW_TO_OLD, SOURCE}),
    "A field is gone: the old side still requires it if it had no default; a type that forbids "
    "unknown fields rejects old messages that carry it; code that sets or reads it breaks.",
    "Give it a default first, stop using it, then remove it and accept; to rename, pin the old "
    "wire name with `msgspec.field(name=...)`.",
    "class Probe(msgspec.Struct):\n    host: str\n    region: str",
    "class Probe(msgspec.Struct):\n    host: str",
)
WIRE_FIELD_REQUIRED = Rule(
    "WIRE_FIELD_REQUIRED",
    frozenset({OLD_TO_NEW, SOURCE}),
    "A field the old side may leave out of a message is now required: a TypedDict key no "
    "longer `NotRequired`, or a field of an `omit_defaults=True` Struct that lost its default.",
    "Keep it optional.",
    "class Probe(typing.TypedDict):\n    host: str\n    port: typing.NotRequired[int]",
    "class Probe(typing.TypedDict):\n    host: str\n    port: int",
)
WIRE_FIELD_OPTIONAL = Rule(
    "WIRE_FIELD_OPTIONAL",
    frozenset({NEW_TO_OLD}),
    "The new side may leave out a field the old side requires: a TypedDict key made "
    "`NotRequired` (or `total=False`), or a required field of an `omit_defaults=True` Struct "
    "given a default. Old decoders reject every message without it.",
    "Upgrade the side that decodes first: the workers for arguments, the clients for results.",
    "class Probe(typing.TypedDict):\n    host: str\n    port: int",
    "class Probe(typing.TypedDict):\n    host: str\n    port: typing.NotRequired[int]",
)
SOURCE_FIELD_REQUIRED = Rule(
    "SOURCE_FIELD_REQUIRED",
    frozenset({SOURCE}),
    "A field lost its default where every message carries it anyway (no `omit_defaults`): the "
    "wire is fine, constructors that leave it out stop type-checking.",
    "Keep the default.",
    "class Probe(msgspec.Struct):\n    host: str\n    port: int = 80",
    "class Probe(msgspec.Struct):\n    host: str\n    port: int",
)
WIRE_FIELD_MOVED = Rule(
    "WIRE_FIELD_MOVED",
    frozenset({OLD_TO_NEW, NEW_TO_OLD, SOURCE}),
    "A field of an `array_like` Struct or a NamedTuple moved: their fields travel by position, "
    "and constructors take them by position.",
    "Keep the order; add fields to an `array_like` Struct at the end, with a default.",
    "class Point(msgspec.Struct, array_like=True):\n    x: float\n    y: float",
    "class Point(msgspec.Struct, array_like=True):\n    y: float\n    x: float",
)
SOURCE_FIELD_MOVED = Rule(
    "SOURCE_FIELD_MOVED",
    frozenset({SOURCE}),
    "A field that constructors take by position is at another position (reordered, or a field "
    'inserted before it): `Name("Ada", "Lovelace")` type-checks and swaps the values. A '
    "field made keyword-only breaks such calls loudly.",
    "Keep the order; add fields at the end, or make the type `kw_only=True`.",
    "class Name(msgspec.Struct):\n    first: str\n    last: str",
    "class Name(msgspec.Struct):\n    last: str\n    first: str",
    silent=True,
)
SOURCE_FIELD_RENAMED = Rule(
    "SOURCE_FIELD_RENAMED",
    frozenset({SOURCE}),
    "A field's Python name changed under a pinned wire name (`msgspec.field(name=...)`); "
    "constructors and readers break.",
    "Update the code that uses it, and accept.",
    "class Probe(msgspec.Struct):\n    host: str",
    'class Probe(msgspec.Struct):\n    hostname: str = msgspec.field(name="host")',
)
WIRE_STRUCT_OPTION_CHANGED = Rule(
    "WIRE_STRUCT_OPTION_CHANGED",
    BOTH,
    "`array_like` changed, or a `tag`/`tag_field` changed where it decides what decodes: a "
    "Struct in a union, an `array_like` Struct (the tag is its first element), or an old type "
    "that forbids unknown fields.",
    "A new type (and task) with the new options.",
    "class Point(msgspec.Struct):\n    x: float",
    "class Point(msgspec.Struct, array_like=True):\n    x: float",
)
WIRE_FIELDS_FORBIDDEN = Rule(
    "WIRE_FIELDS_FORBIDDEN",
    NONE,
    "`forbid_unknown_fields` turned on. Messages of the old contract still decode; any later "
    "added field becomes a strict change (`WIRE_FIELD_ADDED_STRICT`), so it is a warning.",
    "Leave it off unless unknown fields are an error worth a deploy order.",
    "class Probe(msgspec.Struct):\n    host: str",
    "class Probe(msgspec.Struct, forbid_unknown_fields=True):\n    host: str",
    fixed_severity="warning",
)
SOURCE_STRUCT_OPTION_CHANGED = Rule(
    "SOURCE_STRUCT_OPTION_CHANGED",
    frozenset({SOURCE}),
    "`frozen`, `order` or `eq` changed; code that mutates, sorts, hashes or compares instances "
    "may break, so it is a warning.",
    "Check the code that uses the type.",
    "class Probe(msgspec.Struct):\n    host: str",
    "class Probe(msgspec.Struct, frozen=True):\n    host: str",
    fixed_severity="warning",
)

#: Every rule by id, in the order of the docs table.
RULES: dict[str, Rule] = {r.id: r for r in list(globals().values()) if isinstance(r, Rule)}

__all__ = [
    "BOTH",
    "NEW_TO_OLD",
    "OLD_TO_NEW",
    "RULES",
    "SEVERITIES",
    "SOURCE",
    "Direction",
    "Directions",
    "Position",
    "Rule",
    "Severity",
    "safe_order",
]
