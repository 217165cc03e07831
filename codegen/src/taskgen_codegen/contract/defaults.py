"""Default values and factories, spelled as Python source for the generated client."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from taskgen_codegen.contract.errors import Unsupported
from taskgen_codegen.contract.model import Default, literal


class _Module(str):
    """A module name inside spelled source, kept apart so a file may import it as another name."""

    __slots__ = ()


_FACTORIES: dict[Any, str] = {
    list: "list",
    dict: "dict",
    set: "set",
    frozenset: "frozenset",
    bytearray: "bytearray",
    tuple: "tuple",
}

_DATETIME = _Module("datetime")


class DefaultSpeller:
    """Spells defaults; ``ref`` reads a class into the model and returns its name."""

    def __init__(self, ref: Callable[[type], str]) -> None:
        self.ref = ref

    def value(self, value: Any) -> Default:
        """A default value spelled as Python source."""
        refs: set[str] = set()
        return Default("value", _parts(self._tokens(value, refs)), tuple(sorted(refs)))

    def factory(self, factory: Any) -> Default:
        """A default factory spelled as Python source."""
        if factory in _FACTORIES:
            return Default("factory", (_FACTORIES[factory],))
        if isinstance(factory, type) and (
            issubclass(factory, msgspec.Struct) or dataclasses.is_dataclass(factory)
        ):
            name = self.ref(factory)
            return Default("factory", (name,), refs=(name,))
        raise Unsupported(
            f"default factory {factory!r} cannot be written into the generated client",
            "use list, dict, set, frozenset, tuple, bytearray or a Struct class as the factory",
        )

    def _tokens(self, value: Any, refs: set[str]) -> list[str]:
        """The source of ``value`` as text pieces, module names as ``_Module`` pieces."""
        kind = type(value)
        if value is None or kind in (bool, int, str, bytes):
            return [literal(value)]
        if kind is float:
            if not math.isfinite(value):
                raise Unsupported(f"default {value!r} is not finite", "use a finite float or None")
            return [literal(value)]
        if value is msgspec.UNSET:
            return [_Module("msgspec"), ".UNSET"]
        if isinstance(value, enum.Enum):
            name = self.ref(kind)
            refs.add(name)
            if value.name in kind.__members__:
                return [f"{name}.{value.name}"]
            return [f"{name}({literal(value.value)})"]  # a combination of Flag members
        if kind is tuple:
            items = [self._tokens(v, refs) for v in value]
            return ["(", *_joined(items), ",)" if len(items) == 1 else ")"]
        if kind is frozenset:
            items = sorted((self._tokens(v, refs) for v in value), key="".join)
            return ["frozenset({", *_joined(items), "})"] if items else ["frozenset()"]
        if kind in (datetime.date, datetime.timedelta):
            return _module_repr(value)
        if kind in (datetime.datetime, datetime.time):
            return _moment(value)
        if kind in (uuid.UUID, decimal.Decimal):
            return [_Module(kind.__module__), f".{kind.__name__}({literal(str(value))})"]
        if _fields_of(value) is not None:
            return self._instance(value, refs)
        if isinstance(value, list | dict | set | bytearray):
            raise Unsupported(
                f"mutable default {value!r} would be shared between calls",
                "use a tuple or frozenset, or None, or a default_factory on a Struct field",
            )
        raise Unsupported(
            f"default {value!r} cannot be written into the generated client",
            "use a literal (str, int, float, bool, bytes, None), an Enum member, a tuple, "
            "a datetime, UUID or Decimal, or an instance of a frozen Struct",
        )

    def _instance(self, value: Any, refs: set[str]) -> list[str]:
        """``Name(field=value, …)`` for a frozen Struct, frozen dataclass or NamedTuple."""
        kind = type(value)
        fields = _fields_of(value)
        if not _is_frozen(kind) or fields is None:
            raise Unsupported(
                f"default {value!r} is a mutable {kind.__name__}, shared by every call",
                f"declare {kind.__name__} with frozen=True, or use a default_factory",
            )
        name = self.ref(kind)
        refs.add(name)
        items = [[f"{field}=", *self._tokens(item, refs)] for field, item in fields]
        return [f"{name}(", *_joined(items), ")"]


def _fields_of(value: Any) -> list[tuple[str, Any]] | None:
    """The constructor arguments that rebuild a Struct, dataclass or NamedTuple instance."""
    kind = type(value)
    if isinstance(value, msgspec.Struct):
        return [(f.name, getattr(value, f.name)) for f in msgspec.structs.fields(kind)]
    if dataclasses.is_dataclass(kind):
        return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(kind) if f.init]
    if isinstance(value, tuple) and hasattr(kind, "_fields"):
        return [(f, getattr(value, f)) for f in kind._fields]
    return None


def _is_frozen(kind: type) -> bool:
    if issubclass(kind, msgspec.Struct):
        return bool(kind.__struct_config__.frozen)
    if dataclasses.is_dataclass(kind):
        params = getattr(kind, "__dataclass_params__", None)
        return bool(getattr(params, "frozen", False))
    return issubclass(kind, tuple)


def _moment(value: datetime.datetime | datetime.time) -> list[str]:
    """A datetime or time, with its time zone when it has a fixed offset."""
    tz = value.tzinfo
    naive = _module_repr(value.replace(tzinfo=None))
    if tz is None:
        return naive
    if type(tz) is not datetime.timezone:
        raise Unsupported(
            f"default {value!r} has the time zone {tz!r}, which has no fixed offset",
            "use datetime.timezone.utc or datetime.timezone(timedelta(hours=…)), or a naive value",
        )
    return [*naive[:-1], naive[-1][:-1] + ", tzinfo=", *_timezone(tz), ")"]


def _timezone(tz: datetime.timezone) -> list[str]:
    if tz is datetime.UTC:
        return [_DATETIME, ".timezone.utc"]
    offset = tz.utcoffset(None)
    name = tz.tzname(None)
    named = name != datetime.timezone(offset).tzname(None)
    return [
        _DATETIME,
        ".timezone(",
        *_module_repr(offset),
        f", {literal(name)})" if named else ")",
    ]


def _module_repr(value: object) -> list[str]:
    """``repr`` of a ``datetime`` value, which starts with its module name."""
    text = repr(value)
    module, _, rest = text.partition(".")
    return [_Module(module), "." + rest]


def _joined(items: Iterable[list[str]]) -> list[str]:
    """Token lists joined with ``", "``."""
    out: list[str] = []
    for i, tokens in enumerate(items):
        out.extend([", "] if i else [])
        out.extend(tokens)
    return out


def _parts(tokens: list[str]) -> tuple[str, ...]:
    """Fold tokens into ``Default.parts``: text, module, text, …, text."""
    parts = [""]
    for token in tokens:
        if isinstance(token, _Module):
            parts += [str(token), ""]
        else:
            parts[-1] += token
    return tuple(parts)
