"""Comparing named types: Enums, and the fields and options of Structs, dataclasses, TypedDicts
and NamedTuples.

A field's fate on the wire depends on who may leave it out of a message (a TypedDict key that is
not required; a defaulted field of an ``omit_defaults`` Struct, which is left out when it equals
the writer's default and filled in with the reader's) and on who rejects fields it does not know
(``forbid_unknown_fields``; a NamedTuple, which decodes only arrays of its own length).
"""

from __future__ import annotations

from taskgen_codegen.check import rules as R
from taskgen_codegen.check.compat_base import Pairing, Place
from taskgen_codegen.check.compat_types import TypeDiff, old_readers
from taskgen_codegen.check.defaults import wire_default
from taskgen_codegen.check.lock import SOURCE_OPTIONS, Lock, LockField, LockType, OptionValue
from taskgen_codegen.check.rules import Direction, Directions
from taskgen_codegen.contract.model import Constrained, Container, Ref, TypeExpr, Union


class RecordDiff(TypeDiff):
    """Compares named types, each pair once per position (arguments, result)."""

    def __init__(self, old: Lock, new: Lock) -> None:
        super().__init__(old, new)
        self._compared: set[Pairing] = set()
        self._in_union = _union_members(old) | _union_members(new)
        #: The task being compared (by new wire name).
        self.root = ""
        #: The pairings each task, or each pairing, compares directly: a pairing is compared
        #: once, however many tasks reach it, so its findings concern all of them.
        self.reaches: dict[str | Pairing, set[Pairing]] = {}

    def tasks_reaching(self) -> dict[Pairing, frozenset[str]]:
        """For each pairing compared, the tasks whose comparison reaches it."""
        found: dict[Pairing, set[str]] = {}
        for root in [r for r in self.reaches if isinstance(r, str)]:
            todo, seen = set(self.reaches[root]), set[Pairing]()
            while todo:
                pairing = todo.pop()
                if pairing not in seen:
                    seen.add(pairing)
                    found.setdefault(pairing, set()).add(root)
                    todo |= self.reaches.get(pairing, set())
        return {pairing: frozenset(roots) for pairing, roots in found.items()}

    def definition(self, old_name: str, new_name: str, place: Place) -> None:
        pairing = (old_name, new_name, place.position)
        self.reaches.setdefault(self._pairing or self.root, set()).add(pairing)
        if pairing in self._compared:
            return
        self._compared.add(pairing)
        outer, self._pairing = self._pairing, pairing
        try:
            self._definition(old_name, new_name, place)
        finally:
            self._pairing = outer

    def _definition(self, old_name: str, new_name: str, place: Place) -> None:
        old, new = self.old.types[old_name], self.new.types[new_name]
        at = place.inside(f"type {new_name}", ("type", new_name))
        if old_name != new_name:
            self.add(
                R.SOURCE_TYPE_RENAMED,
                at,
                f"renamed from {old_name}: the wire is unchanged, imports of {old_name} break",
            )
        if old.is_enum and new.is_enum:
            self.enum(new_name, old, new, at)
        elif old.kind == "newtype" and new.kind == "newtype":
            assert old.base is not None and new.base is not None
            self.expr(old.base, new.base, at)
        elif _is_record(old) and _is_record(new):
            self.record(new_name, old, new, at)
        else:
            self.add(
                R.WIRE_TYPE_CHANGED,
                at,
                f"changed from {old.kind} {old_name} to {new.kind} {new_name}",
            )

    def enum(self, name: str, old: LockType, new: LockType, at: Place) -> None:
        before, after = _names_by_value(old), _names_by_value(new)
        for member, value in old.members.items():
            if value not in after:
                self.add(
                    R.WIRE_ENUM_VALUE_REMOVED,
                    at,
                    f"member {member} = {value!r} removed: values of the old side may carry it",
                )
            elif member not in after[value]:
                # An alias added beside a kept name is no rename: old code still finds its name.
                renamed = after[value][0]
                member_at = at.inside(at.subject, ("member", name, renamed))
                if member in new.members:
                    self.add(
                        R.WIRE_NAME_SWAPPED,
                        member_at,
                        f"value {value!r} now means {renamed}, not {member} (which is now "
                        f"{new.members[member]!r}): values in flight change their meaning",
                    )
                else:
                    self.add(
                        R.SOURCE_ENUM_MEMBER_RENAMED,
                        member_at,
                        f"member {member} renamed to {renamed} (value {value!r} unchanged)",
                    )
        for member, value in new.members.items():
            if value not in before:
                self.add(
                    R.WIRE_ENUM_VALUE_ADDED,
                    at.inside(at.subject, ("member", name, member)),
                    f"member {member} = {value!r} added: {old_readers(at)} reject it",
                )

    def record(self, name: str, old: LockType, new: LockType, at: Place) -> None:
        """A Struct, dataclass, TypedDict or NamedTuple."""
        self.options(name, old, new, at)
        if old.kind != new.kind and old.positional == new.positional:
            self.add(R.SOURCE_TYPE_RENAMED, at, f"changed from a {old.kind} to a {new.kind}")
        elif old.kind != new.kind:
            self.add(R.WIRE_TYPE_CHANGED, at, f"changed from a {old.kind} to a {new.kind}")
        if old.positional and new.positional:
            if self.positional_fields(name, old, new, at):
                return
        else:
            self.named_fields(name, old, new, at)
        self.constructor_positions(name, old, new, at)

    def options(self, name: str, old: LockType, new: LockType, at: Place) -> None:
        # Between kinds (a NamedTuple is an array too) the kind change is what is reported.
        if old.kind == new.kind and _option(old, "array_like") != _option(new, "array_like"):
            self.add(
                R.WIRE_STRUCT_OPTION_CHANGED,
                at,
                f"array_like changed from {_option(old, 'array_like')!r} to "
                f"{_option(new, 'array_like')!r}: one side writes arrays, the other objects",
            )
        tag_was = (_option(old, "tag"), _option(old, "tag_field"))
        tag_now = (_option(new, "tag"), _option(new, "tag_field"))
        if tag_was != tag_now:
            broken = self._tag_breaks(name, old, new)
            if broken:
                self.add(
                    R.WIRE_STRUCT_OPTION_CHANGED,
                    at,
                    f"tag changed from {_tag(old)} to {_tag(new)}: {self._tag_why(name, old, new)}",
                    directions=broken,
                )
        if not _option(old, "forbid_unknown_fields") and _option(new, "forbid_unknown_fields"):
            self.add(
                R.WIRE_FIELDS_FORBIDDEN,
                at,
                "forbid_unknown_fields turned on: messages of the old contract still decode, "
                "but a field added later is rejected by this version",
            )
        for option in SOURCE_OPTIONS:
            was, now = _option(old, option), _option(new, option)
            if was != now:
                self.add(
                    R.SOURCE_STRUCT_OPTION_CHANGED, at, f"{option} changed from {was!r} to {now!r}"
                )

    def _tag_breaks(self, name: str, old: LockType, new: LockType) -> Directions:
        """Which directions a changed tag breaks: none for a plain Struct in no union."""
        if name in self._in_union or old.positional or new.positional:
            return R.BOTH
        had, has = _option(old, "tag") is not None, _option(new, "tag") is not None
        broken: set[Direction] = set()
        if had and has:
            broken |= R.BOTH  # a decoder of a tagged Struct checks the tag's value
        if has and _option(old, "forbid_unknown_fields"):
            broken.add(R.NEW_TO_OLD)
        if had and _option(new, "forbid_unknown_fields"):
            broken.add(R.OLD_TO_NEW)
        return frozenset(broken)

    def _tag_why(self, name: str, old: LockType, new: LockType) -> str:
        if name in self._in_union:
            return "the tag decides which option of a union a message decodes as"
        if old.positional or new.positional:
            return "the tag is the first element of an array_like Struct"
        if _option(old, "tag") is not None and _option(new, "tag") is not None:
            return "a decoder rejects a message with another tag value"
        return "the type that forbids unknown fields rejects the other side's tag field"

    def named_fields(self, name: str, old: LockType, new: LockType, at: Place) -> None:
        before = {f.wire_name: f for f in old.fields}
        after = {f.wire_name: f for f in new.fields}
        names_now = {f.name: f for f in new.fields}
        gone = [f for wire, f in before.items() if wire not in after]
        for field in gone:
            self.field_removed(name, field, old, new, at)
        for wire, field in after.items():
            if wire in before:
                self.field(name, before[wire], field, old, new, names_now, at)
            else:
                self.field_added(name, field, old, new, at, gone)

    def positional_fields(self, name: str, old: LockType, new: LockType, at: Place) -> bool:
        """Fields travelling by position; True when one moved (the rest is then moot)."""
        # By position, wire names are never written: a field is what its Python name says.
        names_before = {f.name for f in old.fields}
        names_after = {f.name for f in new.fields}
        for index, (was, now) in enumerate(zip(old.fields, new.fields, strict=False)):
            if was.name != now.name and (was.name in names_after or now.name in names_before):
                self.add(
                    R.WIRE_FIELD_MOVED,
                    at.inside(_field_subject(name, now), ("field", name, now.name)),
                    f"position {index} was {was.name}, is now {now.name}: values travel by "
                    "position; add new fields at the end, with a default",
                )
                return True
            # Only the name changed: by position, the wire does not see it.
            self.field(name, was, now, old, new, {}, at, renamed=was.name != now.name)
        for field in old.fields[len(new.fields) :]:
            self.field_removed(name, field, old, new, at)
        for field in new.fields[len(old.fields) :]:
            self.field_added(name, field, old, new, at, [])
        return False

    def field_added(
        self,
        name: str,
        field: LockField,
        old: LockType,
        new: LockType,
        at: Place,
        gone: list[LockField],
    ) -> None:
        here = at.inside(_field_subject(name, field), ("field", name, field.name))
        rename = next((g for g in gone if g.type == field.type), None)
        hint = (
            f"; if it renames {rename.name}, keep its wire name: "
            f"`{field.name}: {field.type.spell()} = msgspec.field(name={rename.wire_name!r})`"
            if rename is not None and new.kind in ("struct",)
            else ""
        )
        if not field.optional:
            self.add(
                R.WIRE_FIELD_ADDED_REQUIRED,
                here,
                "added without a default: messages from the old side lack it; give it a "
                f"default{hint}",
            )
        strict = _rejects_unknown(old)
        if strict:
            self.add(
                R.WIRE_FIELD_ADDED_STRICT,
                here,
                f"added, but {strict}: {old_readers(at)} reject every message that has it",
            )
        elif field.optional:
            self.add(R.WIRE_FIELD_ADDED, here, f"added with a default{hint}")

    def field_removed(
        self, name: str, field: LockField, old: LockType, new: LockType, at: Place
    ) -> None:
        broken = {R.SOURCE}
        reasons = []
        if not field.optional:
            broken.add(R.NEW_TO_OLD)
            reasons.append(f"{old_readers(at)} still require it")
        strict = _rejects_unknown(new)
        if strict:
            broken.add(R.OLD_TO_NEW)
            reasons.append(f"{strict}, and messages of the old side carry it")
        reasons.append("code that sets or reads it breaks")
        self.add(
            R.WIRE_FIELD_REMOVED,
            at.inside(_field_subject(name, field), ("type", name)),
            "removed: " + "; ".join(reasons) + "; keep it with a default until no code uses it",
            directions=frozenset(broken),
        )

    def field(
        self,
        name: str,
        was: LockField,
        now: LockField,
        old: LockType,
        new: LockType,
        names_now: dict[str, LockField],
        at: Place,
        *,
        renamed: bool = False,
    ) -> None:
        here = at.inside(_field_subject(name, now), ("field", name, now.name))
        if renamed:
            self.add(
                R.SOURCE_FIELD_RENAMED,
                here,
                f"renamed from {was.name}: fields travel by position, so only code that uses "
                "the name breaks",
            )
        elif was.name != now.name:
            moved = names_now.get(was.name)
            if moved is not None:
                self.add(
                    R.WIRE_NAME_SWAPPED,
                    here,
                    f"wire key {now.wire_name!r} was field {was.name}, is now field {now.name} "
                    f"({was.name} is now {moved.wire_name!r}): messages in flight put each "
                    "value in the other field",
                )
            else:
                self.add(
                    R.SOURCE_FIELD_RENAMED,
                    here,
                    f"renamed from {was.name} (wire name {now.wire_name!r} kept)",
                )
        self.expr(was.type, now.type, here)
        self.presence(was, now, old, new, here)

    def presence(
        self, was: LockField, now: LockField, old: LockType, new: LockType, here: Place
    ) -> None:
        """Who may leave the field out, and what the other side then makes of it."""
        old_omits, new_omits = _may_omit(old, was), _may_omit(new, now)
        silent: set[Direction] = set()
        # Left out because it equals the writer's default, then read as the reader's default.
        differ = (
            was.default is not None
            and now.default is not None
            and wire_default(was.default, self.old) != wire_default(now.default, self.new)
        )
        if old_omits and differ:
            silent.add(R.OLD_TO_NEW)
        if new_omits and differ:
            silent.add(R.NEW_TO_OLD)
        if silent:
            self.add(
                R.WIRE_DEFAULT_CHANGED,
                here,
                f"default changed from {was.default} to {now.default} in an omit_defaults "
                "Struct: a value equal to the writer's default is left out, and the reader "
                "fills in its own",
                directions=frozenset(silent),
            )
        elif differ:
            self.add(
                R.SOURCE_DEFAULT_CHANGED,
                here,
                f"default changed from {was.default} to {now.default}: every message carries "
                "the value, so only constructors that leave it out get another one",
            )
        if old_omits and not now.optional:
            self.add(
                R.WIRE_FIELD_REQUIRED,
                here,
                "now required, but the old side leaves it out of messages: they no longer decode",
            )
        elif new_omits and not was.optional:
            self.add(
                R.WIRE_FIELD_OPTIONAL,
                here,
                f"the new side may leave it out of messages, and {old_readers(here)} require it",
            )
        elif was.optional and not now.optional:
            self.add(
                R.SOURCE_FIELD_REQUIRED,
                here,
                f"lost its default {was.default}: every message carries it, but constructors "
                "that leave it out stop type-checking",
            )

    def constructor_positions(self, name: str, old: LockType, new: LockType, at: Place) -> None:
        """``Name("Ada", "Lovelace")`` must fill the same fields in the new type."""
        if old.kind == "typeddict" or new.kind == "typeddict":
            return
        # The same Python name, or the same wire name (a rename, reported on its own).
        was = [f for f in old.fields if f.init and not f.kw_only]
        now = [f for f in new.fields if f.init and not f.kw_only]
        by_name = {f.name: f for f in new.fields}
        for index, field in enumerate(was):
            if index >= len(now) and field.name in by_name and by_name[field.name].kw_only:
                self.add(
                    R.SOURCE_FIELD_MOVED,
                    at.inside(_field_subject(name, field), ("field", name, field.name)),
                    f"now keyword-only: constructors that pass it by position ({name}(...) at "
                    f"position {index + 1}) stop type-checking",
                )
                return
            if index < len(now) and not _same_field(field, now[index], by_name):
                moved = now[index].name
                self.add(
                    R.SOURCE_FIELD_MOVED,
                    at.inside(f"type {name}, field {moved}", ("field", name, moved)),
                    f"position {index + 1} of {name}(...) was {field.name}, is now {moved}: "
                    f"existing positional constructors type-check and set {moved}",
                )
                return


def _field_subject(name: str, field: LockField) -> str:
    """How a finding names a field, with the base class that declares an inherited one."""
    base = f" (declared in {field.declared_in})" if field.declared_in else ""
    return f"type {name}, field {field.name}{base}"


def _same_field(a: LockField, b: LockField, names_now: dict[str, LockField]) -> bool:
    """The same Python name; or the same wire name, the old name gone (a rename)."""
    return a.name == b.name or (a.wire_name == b.wire_name and a.name not in names_now)


#: The lock leaves out options at msgspec's defaults: False, but for these.
_OPTION_DEFAULTS: dict[str, OptionValue | None] = {"eq": True, "tag": None, "tag_field": None}


def _option(kind: LockType, name: str) -> OptionValue | None:
    """An option of a Struct or dataclass, its default included (``frozen`` False...)."""
    return kind.options.get(name, _OPTION_DEFAULTS.get(name, False))


def _tag(kind: LockType) -> str:
    tag = _option(kind, "tag")
    return "none" if tag is None else f"{_option(kind, 'tag_field') or 'type'}={tag!r}"


def _may_omit(kind: LockType, field: LockField) -> bool:
    """Whether a writer of ``kind`` may leave ``field`` out of a message."""
    if kind.kind == "typeddict":
        return not field.required
    omits = kind.kind == "struct" and bool(kind.options.get("omit_defaults"))
    return omits and not kind.positional and field.default is not None


def _rejects_unknown(kind: LockType) -> str:
    """Why a decoder of ``kind`` rejects a message with a field it does not know ("" if not)."""
    if kind.kind == "namedtuple":
        return "a NamedTuple decodes only arrays of its own length"
    if kind.options.get("forbid_unknown_fields"):
        return "the type forbids unknown fields"
    return ""


def _names_by_value(kind: LockType) -> dict[str | int, list[str]]:
    """The member names of an Enum for each value: more than one where aliases share it."""
    names: dict[str | int, list[str]] = {}
    for member, value in kind.members.items():
        names.setdefault(value, []).append(member)
    return names


def _is_record(kind: LockType) -> bool:
    """A type with fields: Struct, dataclass, TypedDict or NamedTuple."""
    return not kind.is_enum and kind.kind != "newtype"


def _union_members(lock: Lock) -> set[str]:
    """The named types that are an option of some union, anywhere in ``lock``."""
    types = [t.returns for t in lock.tasks.values()]
    types += [t.progress for t in lock.tasks.values() if t.progress is not None]
    types += [p.type for t in lock.tasks.values() for p in t.params]
    types += [f.type for k in lock.types.values() for f in k.fields]
    types += [k.base for k in lock.types.values() if k.base is not None]
    found: set[str] = set()
    for expr in types:
        _collect(expr, found, in_union=False)
    return found


def _collect(expr: TypeExpr, found: set[str], *, in_union: bool) -> None:
    if isinstance(expr, Union):
        # A union of one Struct (or Enum) and None needs no tag to tell its options apart.
        real = [o for o in expr.options if o.spell() != "None"]
        for option in real:
            _collect(option, found, in_union=len(real) > 1)
    elif isinstance(expr, Ref) and in_union:
        found.add(expr.name)
    elif isinstance(expr, Container):
        for arg in expr.args:
            _collect(arg, found, in_union=False)
    elif isinstance(expr, Constrained):
        _collect(expr.inner, found, in_union=in_union)
