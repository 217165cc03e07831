"""Comparing two type expressions: builtins, containers, unions, Literals, constraints, NewTypes.

What a change breaks follows msgspec's decoding: a value written by one side is decoded by the
other's type (``int`` decodes into ``float``, not the other way), in each direction.
"""

from __future__ import annotations

import operator

from taskgen_codegen.check import rules as R
from taskgen_codegen.check.compat_base import Diff, Place
from taskgen_codegen.check.lock import Lock
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

#: Constraints that only document a type.
_DESCRIPTIVE = {"title", "description"}

#: Builtins whose every value decodes as another builtin: (narrower, wider).
_WIDENINGS = {("int", "float")}
#: The Python types of the values a builtin decodes.
_ACCEPTS: dict[str, set[type]] = {"int": {int}, "float": {int, float}, "str": {str}}


def old_readers(place: Place) -> str:
    """Who decodes with the old contract what the new one writes."""
    return "old workers" if place.position == "args" else "old clients"


class TypeDiff(Diff):
    """Compares type expressions; named types are left to ``definition``."""

    def definition(self, old_name: str, new_name: str, place: Place) -> None:
        raise NotImplementedError

    def expr(self, old: TypeExpr, new: TypeExpr, place: Place) -> None:
        if isinstance(old, Union) or isinstance(new, Union):
            self.union(_options(old), _options(new), place)
        elif _is_newtype(old, self.old) or _is_newtype(new, self.new):
            self.newtype(old, new, place)
        elif isinstance(old, Ref) and isinstance(new, Ref):
            self.definition(old.name, new.name, place)
        elif isinstance(old, LiteralType) and isinstance(new, LiteralType):
            self.literal(old, new, place)
        elif (
            isinstance(old, Container) and isinstance(new, Container) and _shape(old) == _shape(new)
        ):
            for a, b in zip(old.args, new.args, strict=True):
                self.expr(a, b, place)
        elif isinstance(old, Constrained) or isinstance(new, Constrained):
            self.constrained(old, new, place)
        elif old != new:
            self.changed(old, new, place)

    def newtype(self, old: TypeExpr, new: TypeExpr, place: Place) -> None:
        """A NewType on at least one side: on the wire it is its base type."""
        both = _is_newtype(old, self.old) and _is_newtype(new, self.new)
        if both and isinstance(old, Ref) and isinstance(new, Ref):
            self.definition(old.name, new.name, place)
            return
        # Code that passes a value must now wrap it (arguments); code that reads a result
        # annotated with the NewType gets its base type (results). The other way is a subtype.
        wrapped = _is_newtype(new, self.new)
        if wrapped == (place.position == "args"):
            self.add(
                R.SOURCE_TYPE_RENAMED,
                place,
                f"type changed from {old.spell()} to {new.spell()}: a NewType travels as its "
                f"base type, but code written for {old.spell()} does not type-check",
            )
        self.expr(_unwrap(old, self.old), _unwrap(new, self.new), place)

    def changed(self, old: TypeExpr, new: TypeExpr, place: Place) -> None:
        was, now = old.spell(), new.spell()
        if _within(old, self.old, new):
            self.add(
                R.WIRE_TYPE_WIDENED,
                place,
                f"type widened from {was} to {now}: every old value decodes, but "
                f"{old_readers(place)} reject new values that are not {was}",
            )
        elif _within(new, self.new, old):
            self.add(
                R.WIRE_TYPE_CHANGED,
                place,
                f"type narrowed from {was} to {now}: values of the old side that are not "
                f"{now} no longer decode",
                directions=frozenset({R.OLD_TO_NEW}),
            )
        else:
            self.add(
                R.WIRE_TYPE_CHANGED,
                place,
                f"type changed from {was} to {now}: values of one side do not decode on the other",
            )

    def union(self, old: tuple[TypeExpr, ...], new: tuple[TypeExpr, ...], place: Place) -> None:
        pairs, removed, added = self._match(old, new)
        for a, b in pairs:
            self.expr(a, b, place)
        for option in removed:
            self.add(
                R.WIRE_UNION_OPTION_REMOVED,
                place,
                f"no longer accepts {option.spell()}: values of that type from the old side "
                "are rejected",
            )
        for option in added:
            self.add(
                R.WIRE_UNION_OPTION_ADDED,
                place,
                f"now also accepts {option.spell()}: {old_readers(place)} reject such values",
            )

    def _match(
        self, old: tuple[TypeExpr, ...], new: tuple[TypeExpr, ...]
    ) -> tuple[list[tuple[TypeExpr, TypeExpr]], list[TypeExpr], list[TypeExpr]]:
        """Pair the options of two unions by what they are on the wire, then by name."""
        left = {_key(o, self.old): o for o in old}
        right = {_key(o, self.new): o for o in new}
        pairs = [(left[k], right[k]) for k in left if k in right]
        removed = [o for k, o in left.items() if k not in right]
        added = [o for k, o in right.items() if k not in left]
        # A Struct whose tag changed keeps its name: compare it, so the tag is what is reported.
        for option in list(removed):
            twin = next((a for a in added if self._twins(option, a)), None)
            if twin is not None:
                pairs.append((option, twin))
                removed.remove(option)
                added.remove(twin)
        return pairs, removed, added

    def _twins(self, old: TypeExpr, new: TypeExpr) -> bool:
        """Whether two options are one changed option: a renamed tag, a widened value type."""
        return _same_name(old, new) or _within(old, self.old, new) or _within(new, self.new, old)

    def literal(self, old: LiteralType, new: LiteralType, place: Place) -> None:
        for value in old.values:
            if value not in new.values:
                self.add(
                    R.WIRE_LITERAL_VALUE_REMOVED,
                    place,
                    f"value {value!r} removed: values of the old side may still carry it",
                )
        for value in new.values:
            if value not in old.values:
                self.add(
                    R.WIRE_LITERAL_VALUE_ADDED,
                    place,
                    f"value {value!r} added: {old_readers(place)} reject it",
                )

    def constrained(self, old: TypeExpr, new: TypeExpr, place: Place) -> None:
        before, old_inner = _constraints(old)
        after, new_inner = _constraints(new)
        self.expr(old_inner, new_inner, place)
        if before == after:
            return
        # Values of one side fail the other's constraints unless the other's are looser, or
        # every value the side can write (an Enum's, a Literal's) meets them anyway.
        broken = set()
        if not _relaxed(before, after) and not _all_meet(_values(old_inner, self.old), after):
            broken.add(R.OLD_TO_NEW)
        if not _relaxed(after, before) and not _all_meet(_values(new_inner, self.new), before):
            broken.add(R.NEW_TO_OLD)
        if broken == {R.NEW_TO_OLD}:
            change = f"relaxed to {_meta(after)}" if after else "removed"
            self.add(
                R.WIRE_CONSTRAINT_REMOVED,
                place,
                f"constraints {_meta(before)} {change}: {old_readers(place)} reject values the "
                "new side allows",
            )
        elif broken:
            self.add(
                R.WIRE_CONSTRAINT_CHANGED,
                place,
                f"constraints changed from {_meta(before) or 'none'} to {_meta(after) or 'none'}",
                directions=frozenset(broken),
            )


def _key(expr: TypeExpr, lock: Lock) -> str:
    """What a union option is on the wire, so that renames and edits still pair up."""
    if _is_newtype(expr, lock):
        return _key(_unwrap(expr, lock), lock)
    if isinstance(expr, Ref):
        kind = lock.types[expr.name]
        if kind.options.get("tag") is not None:
            return f"tagged:{kind.options.get('tag_field')}={kind.options['tag']}"
        return "enum" if kind.is_enum else kind.kind
    if isinstance(expr, Container):
        return f"container:{'array' if expr.kind != 'dict' else 'object'}"
    if isinstance(expr, Constrained):
        return _key(expr.inner, lock)
    if isinstance(expr, LiteralType):
        return "literal"
    assert isinstance(expr, Builtin)
    return expr.name


def _within(narrow: TypeExpr, lock: Lock, wide: TypeExpr) -> bool:
    """Whether every value of ``narrow`` (builtin, Literal, Enum) decodes as builtin ``wide``."""
    if not isinstance(wide, Builtin) or wide.name not in _ACCEPTS:
        return False
    if isinstance(narrow, Builtin):
        return (narrow.name, wide.name) in _WIDENINGS
    if isinstance(narrow, LiteralType):
        values: list[object] = list(narrow.values)
    elif isinstance(narrow, Ref) and lock.types[narrow.name].is_enum:
        values = list(lock.types[narrow.name].members.values())
    else:
        return False
    # bool is an int to Python, not to msgspec.
    return all(type(v) in _ACCEPTS[wide.name] for v in values)


def _same_name(old: TypeExpr, new: TypeExpr) -> bool:
    return isinstance(old, Ref) and isinstance(new, Ref) and old.name == new.name


def _is_newtype(expr: TypeExpr, lock: Lock) -> bool:
    return isinstance(expr, Ref) and lock.types[expr.name].kind == "newtype"


def _unwrap(expr: TypeExpr, lock: Lock) -> TypeExpr:
    """What a NewType reference is on the wire: its base type; anything else as it is."""
    while isinstance(expr, Ref) and _is_newtype(expr, lock):
        base = lock.types[expr.name].base
        assert base is not None
        expr = base
    return expr


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


def _values(expr: TypeExpr, lock: Lock) -> list[object] | None:
    """Every value a Literal or Enum can hold; None for a type of open-ended values."""
    if isinstance(expr, LiteralType):
        return list(expr.values)
    if isinstance(expr, Ref) and lock.types[expr.name].is_enum:
        return list(lock.types[expr.name].members.values())
    return None


def _all_meet(values: list[object] | None, constraints: dict[str, object]) -> bool:
    """Whether every one of ``values`` (known) meets the numeric and length ``constraints``."""
    if values is None:
        return False
    return all(_meets(v, name, bound) for v in values for name, bound in constraints.items())


def _meets(value: object, name: str, bound: object) -> bool:
    checks = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt}
    if name in checks and isinstance(value, int | float) and isinstance(bound, int | float):
        return bool(checks[name](value, bound))
    if isinstance(value, str | bytes) and isinstance(bound, int):
        if name == "min_length":
            return len(value) >= bound
        if name == "max_length":
            return len(value) <= bound
    return False


def _meta(values: dict[str, object]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items())
