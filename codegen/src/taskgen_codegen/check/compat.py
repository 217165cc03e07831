"""Comparing two locks: every change between an accepted contract and a new one, with its rule.

Types are compared by structure, not by name: a renamed Struct with the same fields is safe on
the wire (a SOURCE change); a Struct reached by many tasks is compared once.
"""

from __future__ import annotations

from dataclasses import dataclass

from taskgen_codegen.check.lock import (
    SOURCE_OPTIONS,
    WIRE_OPTIONS,
    Lock,
    LockField,
    LockTask,
    LockType,
    OptionValue,
)
from taskgen_codegen.check.rules import RULES, SEVERITIES, Rule
from taskgen_codegen.check.spelling import parse_type
from taskgen_codegen.contract.model import (
    Builtin,
    Constrained,
    Constraints,
    Container,
    LiteralType,
    Ref,
    TypeExpr,
    Union,
)

#: Where a finding points: ("task", wire name), ("param", wire name, parameter),
#: ("type", name), ("field", type, field) or ("member", type, member).
Anchor = tuple[str, ...]

#: Constraints that only document a type.
_DESCRIPTIVE = {"title", "description"}


@dataclass(frozen=True)
class Finding:
    """One change between two contracts."""

    rule: Rule
    subject: str
    reason: str
    anchor: Anchor
    #: Which contract the anchor is in: "new", or "old" for something that is gone.
    side: str = "new"

    @property
    def severity(self) -> str:
        return self.rule.severity


def compare(old: Lock, new: Lock) -> list[Finding]:
    """Every change from ``old`` to ``new``, most serious first, then in contract order."""
    comparison = _Comparison(old, new)
    comparison.tasks()
    order = {id(f): i for i, f in enumerate(comparison.findings)}
    return sorted(
        comparison.findings, key=lambda f: (-SEVERITIES.index(f.rule.severity), order[id(f)])
    )


class _Comparison:
    def __init__(self, old: Lock, new: Lock) -> None:
        self.old = old
        self.new = new
        self.findings: list[Finding] = []
        self._compared: set[tuple[str, str]] = set()

    def add(self, rule: str, subject: str, reason: str, anchor: Anchor, side: str = "new") -> None:
        self.findings.append(Finding(RULES[rule], subject, reason, anchor, side))

    # -- tasks ----------------------------------------------------------------------------

    def tasks(self) -> None:
        old, new = self.old.tasks, self.new.tasks
        by_function = {t.function: wire for wire, t in new.items() if wire not in old}
        moved: set[str] = set()
        for wire, task in old.items():
            if wire in new:
                self.task(wire, task, new[wire])
            elif task.function in by_function:
                renamed = by_function[task.function]
                moved.add(renamed)
                self.add(
                    "WIRE_TASK_NAME_CHANGED",
                    f"task {renamed}",
                    f"wire name changed from {wire!r} to {renamed!r}: queued payloads of "
                    f"{wire!r} find no handler; pin `name={wire!r}` in @task to keep it",
                    ("task", renamed),
                )
                self.task(renamed, task, new[renamed])
            else:
                self.add(
                    "WIRE_TASK_REMOVED",
                    f"task {wire}",
                    "removed: keep it (and its handler) until no payload of it is queued",
                    ("task", wire),
                    "old",
                )
        for wire in new:
            if wire not in old and wire not in moved:
                self.add("WIRE_TASK_ADDED", f"task {wire}", "added", ("task", wire))

    def task(self, wire: str, old: LockTask, new: LockTask) -> None:
        subject = f"task {wire}"
        if old.function != new.function:
            self.add(
                "SOURCE_TASK_MOVED",
                subject,
                f"the client method moved from {old.function} to {new.function}",
                ("task", wire),
            )
        if old.queue != new.queue:
            self.add(
                "WIRE_QUEUE_CHANGED",
                subject,
                f"queue changed from {old.queue!r} to {new.queue!r}: tasks already queued on "
                f"{old.queue!r} wait for a worker that no longer reads it",
                ("task", wire),
            )
        self.params(wire, old, new)
        self.type(old.returns, new.returns, f"{subject}, return value", ("task", wire))

    def params(self, wire: str, old: LockTask, new: LockTask) -> None:
        before = {p.name: p for p in old.params}
        after = {p.name: p for p in new.params}
        subject = f"task {wire}"
        for name, gone in before.items():
            if name not in after:
                self.add(
                    "WIRE_PARAM_REMOVED",
                    f"{subject}, parameter {name}",
                    "removed: old workers still require it; deprecate it with a default instead"
                    if gone.default is None
                    else f"removed: old workers fill in its default {gone.default}, but calls "
                    "that still pass it stop type-checking",
                    ("param", wire, name),
                    "old",
                )
        for name, param in after.items():
            anchor = ("param", wire, name)
            what = f"{subject}, parameter {name}"
            if name not in before:
                if param.default is None:
                    self.add(
                        "WIRE_PARAM_ADDED_REQUIRED",
                        what,
                        "added without a default: payloads from old clients lack it; "
                        "give it a default",
                        anchor,
                    )
                else:
                    added = f"added with default {param.default}"
                    self.add("WIRE_PARAM_ADDED", what, added, anchor)
                continue
            was = before[name]
            self.type(was.type, param.type, what, anchor)
            self.default(was.default, param.default, what, anchor)
            if was.default is not None and param.default is None:
                self.add(
                    "SOURCE_PARAM_REQUIRED",
                    what,
                    f"lost its default {was.default}: calls that leave it out stop type-checking",
                    anchor,
                )
            if _kind_breaks(was.kind, param.kind):
                self.add(
                    "SOURCE_PARAM_KIND_CHANGED",
                    what,
                    f"changed from {was.kind.replace('_', '-')} to {param.kind.replace('_', '-')}",
                    anchor,
                )
        old_order = [p.name for p in old.params if p.kind != "keyword_only" and p.name in after]
        new_order = [p.name for p in new.params if p.kind != "keyword_only" and p.name in before]
        common = [n for n in new_order if n in old_order]
        if [n for n in old_order if n in common] != common:
            self.add(
                "SOURCE_PARAM_MOVED",
                subject,
                f"positional parameters reordered from ({', '.join(old_order)}) "
                f"to ({', '.join(new_order)})",
                ("task", wire),
            )

    def default(self, was: str | None, now: str | None, what: str, anchor: Anchor) -> None:
        if was is not None and now is not None and was != now:
            self.add(
                "WIRE_DEFAULT_CHANGED",
                what,
                f"default changed from {was} to {now}: old and new sides fill in different values",
                anchor,
            )

    # -- types ----------------------------------------------------------------------------

    def type(self, old: str, new: str, what: str, anchor: Anchor) -> None:
        self.expr(parse_type(old), parse_type(new), what, anchor)

    def expr(self, old: TypeExpr, new: TypeExpr, what: str, anchor: Anchor) -> None:
        if isinstance(old, Union) or isinstance(new, Union):
            self.union(_options(old), _options(new), what, anchor)
        elif isinstance(old, Ref) and isinstance(new, Ref):
            self.definition(old.name, new.name, anchor)
        elif _is_newtype(old, self.old) or _is_newtype(new, self.new):
            self.newtype(old, new, what, anchor)
        elif isinstance(old, LiteralType) and isinstance(new, LiteralType):
            self.literal(old, new, what, anchor)
        elif (
            isinstance(old, Container) and isinstance(new, Container) and _shape(old) == _shape(new)
        ):
            for a, b in zip(old.args, new.args, strict=True):
                self.expr(a, b, what, anchor)
        elif isinstance(old, Constrained) or isinstance(new, Constrained):
            self.constrained(old, new, what, anchor)
        elif old != new:
            self.changed(old, new, what, anchor)

    def newtype(self, old: TypeExpr, new: TypeExpr, what: str, anchor: Anchor) -> None:
        """A NewType on one side only: on the wire it is its base type."""
        self.add(
            "SOURCE_TYPE_RENAMED",
            what,
            f"type changed from {old.spell()} to {new.spell()}: a NewType travels as its base "
            f"type, but code written for {old.spell()} may not type-check",
            anchor,
        )
        self.expr(_unwrap(old, self.old), _unwrap(new, self.new), what, anchor)

    def changed(self, old: TypeExpr, new: TypeExpr, what: str, anchor: Anchor) -> None:
        self.add(
            "WIRE_TYPE_CHANGED",
            what,
            f"type changed from {old.spell()} to {new.spell()}: values of one side do not "
            "decode on the other",
            anchor,
        )

    def union(
        self,
        old: tuple[TypeExpr, ...],
        new: tuple[TypeExpr, ...],
        what: str,
        anchor: Anchor,
    ) -> None:
        pairs, removed, added = self._match(old, new)
        for a, b in pairs:
            self.expr(a, b, what, anchor)
        for option in removed:
            self.add(
                "WIRE_UNION_OPTION_REMOVED",
                what,
                f"no longer accepts {option.spell()}: queued values of that type are rejected",
                anchor,
            )
        for option in added:
            self.add(
                "WIRE_UNION_OPTION_ADDED",
                what,
                f"now also accepts {option.spell()}: the old side rejects such values",
                anchor,
            )

    def _match(
        self, old: tuple[TypeExpr, ...], new: tuple[TypeExpr, ...]
    ) -> tuple[list[tuple[TypeExpr, TypeExpr]], list[TypeExpr], list[TypeExpr]]:
        """Pair the options of two unions by what they are on the wire."""
        left = {self._key(o, self.old): o for o in old}
        right = {self._key(o, self.new): o for o in new}
        pairs = [(left[k], right[k]) for k in left if k in right]
        removed = [o for k, o in left.items() if k not in right]
        added = [o for k, o in right.items() if k not in left]
        return pairs, removed, added

    @staticmethod
    def _key(expr: TypeExpr, lock: Lock) -> str:
        """What a union option is on the wire, so that renames and edits still pair up."""
        if _is_newtype(expr, lock):
            return _Comparison._key(_unwrap(expr, lock), lock)
        if isinstance(expr, Ref):
            kind = lock.types[expr.name]
            if kind.options.get("tag") is not None:
                return f"tagged:{kind.options.get('tag_field')}={kind.options['tag']}"
            return "enum" if kind.is_enum else kind.kind
        if isinstance(expr, Container):
            return f"container:{'array' if expr.kind != 'dict' else 'object'}"
        if isinstance(expr, Constrained):
            return _Comparison._key(expr.inner, lock)
        if isinstance(expr, LiteralType):
            return "literal"
        assert isinstance(expr, Builtin)
        return expr.name

    def literal(self, old: LiteralType, new: LiteralType, what: str, anchor: Anchor) -> None:
        for value in old.values:
            if value not in new.values:
                self.add(
                    "WIRE_LITERAL_VALUE_REMOVED",
                    what,
                    f"value {value!r} removed: queued payloads may still carry it",
                    anchor,
                )
        for value in new.values:
            if value not in old.values:
                self.add(
                    "WIRE_LITERAL_VALUE_ADDED",
                    what,
                    f"value {value!r} added: old workers reject it until they are upgraded",
                    anchor,
                )

    def constrained(self, old: TypeExpr, new: TypeExpr, what: str, anchor: Anchor) -> None:
        before, old_inner = _constraints(old)
        after, new_inner = _constraints(new)
        self.expr(old_inner, new_inner, what, anchor)
        if before == after:
            return
        if _relaxed(before, after):
            change = f"relaxed to {_meta(after)}" if after else "removed"
            self.add(
                "WIRE_CONSTRAINT_REMOVED",
                what,
                f"constraints {_meta(before)} {change}: the old side rejects values the new "
                "side accepts",
                anchor,
            )
        else:
            self.add(
                "WIRE_CONSTRAINT_CHANGED",
                what,
                f"constraints changed from {_meta(before) or 'none'} to {_meta(after)}",
                anchor,
            )

    # -- named types -----------------------------------------------------------------------

    def definition(self, old_name: str, new_name: str, anchor: Anchor) -> None:
        if (old_name, new_name) in self._compared:
            return
        self._compared.add((old_name, new_name))
        old, new = self.old.types[old_name], self.new.types[new_name]
        where: Anchor = ("type", new_name)
        if old_name != new_name:
            self.add(
                "SOURCE_TYPE_RENAMED",
                f"type {new_name}",
                f"renamed from {old_name}: the wire is unchanged, imports of {old_name} break",
                where,
            )
        if old.is_enum and new.is_enum:
            self.enum(new_name, old, new)
        elif old.kind == "newtype" and new.kind == "newtype":
            assert old.base is not None and new.base is not None
            self.type(old.base, new.base, f"type {new_name}", where)
        elif _is_record(old) and _is_record(new):
            self.record(new_name, old, new)
        else:
            self.add(
                "WIRE_TYPE_CHANGED",
                f"type {new_name}",
                f"changed from {old.kind} {old_name} to {new.kind} {new_name}",
                where,
            )

    def enum(self, name: str, old: LockType, new: LockType) -> None:
        before, after = _names_by_value(old), _names_by_value(new)
        for member, value in old.members.items():
            if value not in after:
                self.add(
                    "WIRE_ENUM_VALUE_REMOVED",
                    f"type {name}",
                    f"member {member} = {value!r} removed: queued payloads may still carry it",
                    ("type", name),
                )
            elif member not in after[value]:
                # An alias added beside a kept name is no rename: old code still finds its name.
                renamed = after[value][0]
                self.add(
                    "SOURCE_ENUM_MEMBER_RENAMED",
                    f"type {name}",
                    f"member {member} renamed to {renamed} (value {value!r} unchanged)",
                    ("member", name, renamed),
                )
        for member, value in new.members.items():
            if value not in before:
                self.add(
                    "WIRE_ENUM_VALUE_ADDED",
                    f"type {name}",
                    f"member {member} = {value!r} added: old workers reject it until upgraded",
                    ("member", name, member),
                )

    def record(self, name: str, old: LockType, new: LockType) -> None:
        """A Struct, dataclass, TypedDict or NamedTuple."""
        subject = f"type {name}"
        for option in WIRE_OPTIONS:
            was, now = _option(old, option), _option(new, option)
            if was != now and option != "omit_defaults":
                self.add(
                    "WIRE_STRUCT_OPTION_CHANGED",
                    subject,
                    f"{option} changed from {was!r} to {now!r}",
                    ("type", name),
                )
        for option in SOURCE_OPTIONS:
            was, now = _option(old, option), _option(new, option)
            if was != now:
                self.add(
                    "SOURCE_STRUCT_OPTION_CHANGED",
                    subject,
                    f"{option} changed from {was!r} to {now!r}",
                    ("type", name),
                )
        if old.kind != new.kind:
            self.add(
                "SOURCE_TYPE_RENAMED" if old.positional == new.positional else "WIRE_TYPE_CHANGED",
                subject,
                f"changed from a {old.kind} to a {new.kind}",
                ("type", name),
            )
        strict = _rejects_unknown(old)
        if old.positional and new.positional:
            self.positional_fields(name, old.fields, new.fields, strict)
        else:
            self.named_fields(name, old, new, strict)

    def named_fields(self, name: str, old: LockType, new: LockType, strict: str) -> None:
        before = {f.wire_name: f for f in old.fields}
        after = {f.wire_name: f for f in new.fields}
        for wire, field in before.items():
            if wire not in after:
                self.add(
                    "WIRE_FIELD_REMOVED",
                    f"type {name}, field {field.name}",
                    _field_removed(field, new),
                    ("type", name),
                )
        for wire, field in after.items():
            if wire in before:
                self.field(name, before[wire], field)
            else:
                self.field_added(name, field, strict)

    def positional_fields(
        self, name: str, old: tuple[LockField, ...], new: tuple[LockField, ...], strict: str
    ) -> None:
        for index, (was, now) in enumerate(zip(old, new, strict=False)):
            if was.wire_name != now.wire_name:
                self.add(
                    "WIRE_FIELD_MOVED",
                    f"type {name}, field {now.name}",
                    f"position {index} was {was.name}, is now {now.name}: values travel by "
                    "position; add new fields at the end, with a default",
                    ("field", name, now.name),
                )
                return
            self.field(name, was, now)
        for field in old[len(new) :]:
            self.add(
                "WIRE_FIELD_REMOVED",
                f"type {name}, field {field.name}",
                "removed: the old side still requires it",
                ("type", name),
            )
        for field in new[len(old) :]:
            self.field_added(name, field, strict)

    def field_added(self, name: str, field: LockField, strict: str) -> None:
        what = f"type {name}, field {field.name}"
        anchor = ("field", name, field.name)
        if strict:
            self.add(
                "WIRE_TYPE_CHANGED",
                what,
                f"added, but {strict}: the old side rejects every message of the new one, "
                "default or not; declare a new type for the new shape",
                anchor,
            )
        elif field.optional:
            self.add("WIRE_FIELD_ADDED", what, "added with a default", anchor)
        else:
            self.add(
                "WIRE_FIELD_ADDED_REQUIRED",
                what,
                "added without a default: messages from the old side lack it; give it a default",
                anchor,
            )

    def field(self, name: str, was: LockField, now: LockField) -> None:
        what = f"type {name}, field {now.name}"
        anchor = ("field", name, now.name)
        if was.name != now.name:
            self.add(
                "SOURCE_FIELD_RENAMED",
                what,
                f"renamed from {was.name} (wire name {now.wire_name!r} kept)",
                anchor,
            )
        self.type(was.type, now.type, what, anchor)
        self.default(was.default, now.default, what, anchor)
        if was.optional and not now.optional:
            self.add(
                "WIRE_FIELD_REQUIRED",
                what,
                "lost its default: messages that leave it out no longer decode",
                anchor,
            )


#: The lock leaves out options at msgspec's defaults: False, but for these.
_OPTION_DEFAULTS: dict[str, OptionValue | None] = {"eq": True, "tag": None, "tag_field": None}


def _option(kind: LockType, name: str) -> OptionValue | None:
    """An option of a Struct or dataclass, its default included (``frozen`` False...)."""
    return kind.options.get(name, _OPTION_DEFAULTS.get(name, False))


def _names_by_value(kind: LockType) -> dict[str | int, list[str]]:
    """The member names of an Enum for each value: more than one where aliases share it."""
    names: dict[str | int, list[str]] = {}
    for member, value in kind.members.items():
        names.setdefault(value, []).append(member)
    return names


def _is_record(kind: LockType) -> bool:
    """A type with fields: Struct, dataclass, TypedDict or NamedTuple."""
    return not kind.is_enum and kind.kind != "newtype"


def _field_removed(field: LockField, new: LockType) -> str:
    """Why removing a field from a type decoded by name breaks, and what to do."""
    if new.options.get("forbid_unknown_fields"):
        return "removed, and the type forbids unknown fields: messages from the old side carry it"
    if not field.optional:
        return "removed: the old side still requires it; keep it with a default instead"
    return "removed: the old side fills in its default, but code that sets or reads it breaks"


def _is_newtype(expr: TypeExpr, lock: Lock) -> bool:
    return isinstance(expr, Ref) and lock.types[expr.name].kind == "newtype"


def _unwrap(expr: TypeExpr, lock: Lock) -> TypeExpr:
    """What a NewType reference is on the wire: its base type; anything else as it is."""
    if not isinstance(expr, Ref) or not _is_newtype(expr, lock):
        return expr
    base = lock.types[expr.name].base
    assert base is not None
    return parse_type(base)


def _rejects_unknown(kind: LockType) -> str:
    """Why a decoder of ``kind`` rejects a message with a field it does not know ("" if not)."""
    if kind.kind == "namedtuple":
        return "a NamedTuple decodes only arrays of its own length"
    if kind.options.get("forbid_unknown_fields"):
        return "the old type forbids unknown fields"
    return ""


def _options(expr: TypeExpr) -> tuple[TypeExpr, ...]:
    return expr.options if isinstance(expr, Union) else (expr,)


def _shape(expr: Container) -> tuple[str, int]:
    return expr.kind, len(expr.args)


def _constraints(expr: TypeExpr) -> tuple[dict[str, object], TypeExpr]:
    if not isinstance(expr, Constrained):
        return {}, expr
    meta = expr.meta
    values = {
        name: value
        for name in Constraints.__struct_fields__
        if name not in _DESCRIPTIVE and (value := getattr(meta, name)) is not None
    }
    return values, expr.inner


#: Bounds that accept more values when lowered, and those that accept more when raised.
_LOWER_BOUNDS = frozenset({"gt", "ge", "min_length"})
_UPPER_BOUNDS = frozenset({"lt", "le", "max_length"})


def _relaxed(before: dict[str, object], after: dict[str, object]) -> bool:
    """Whether every value that meets the ``before`` constraints also meets ``after``."""
    return all(_looser(name, before.get(name), now) for name, now in after.items())


def _looser(name: str, was: object, now: object) -> bool:
    """Whether constraint ``name`` set to ``now`` accepts every value it accepted at ``was``."""
    if now == was:
        return True
    if not (isinstance(was, int | float) and isinstance(now, int | float)):
        return False  # added, or a pattern, multiple_of or tz changed
    return (name in _LOWER_BOUNDS and now <= was) or (name in _UPPER_BOUNDS and now >= was)


def _meta(values: dict[str, object]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items())


def _kind_breaks(was: str, now: str) -> bool:
    """Whether callers of the old signature can fail against the new one."""
    if was == now:
        return False
    # positional_only -> positional and keyword_only -> positional only widen what callers may do.
    return not (now == "positional" and was in ("positional_only", "keyword_only"))
