"""Round trip: the generated client's types put exactly the contract's messages on the wire.

For each type of the every-type fixture (Structs, dataclasses, TypedDicts, NamedTuples, Enums,
NewTypes, and each task's arguments and result), hypothesis generates messages from the
contract type's msgspec description (``msgspec.inspect.type_info``) and checks that

- a valid message decodes into both types, and both values encode to the same JSON and
  msgpack bytes (msgpack is the runtime's wire); the client's value decodes back into the
  contract type as a value equal to the first;
- any message, valid or not (constraints broken, fields missing or unknown, wrong tags,
  wrong types), is accepted by both types or rejected by both, with the same error.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import functools
import importlib
import inspect
import math
import sys
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskgen_codegen.contract import ContractModel, load_contracts
from taskgen_codegen.contract.model import (
    Constrained,
    Container,
    EnumDef,
    NewTypeDef,
    TypeExpr,
    Union,
)
from taskgen_codegen.generate import BuildConfig, build_model
from taskgen_codegen.generate.names import args_class, task_constant

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONTRACT = FIXTURES / "every_type"
CLIENT = "every_client"

JSON = msgspec.json.Encoder()
MSGPACK = msgspec.msgpack.Encoder()

INT64 = (-(2**63), 2**63 - 1)
#: msgspec writes a UTC offset in whole minutes.
OFFSETS = st.builds(
    datetime.timezone,
    st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: datetime.timedelta(minutes=m)),
)

#: A year away from the ends, where a UTC offset would move msgpack's timestamp out of range.
EARLIEST, LATEST = datetime.datetime(2, 1, 1), datetime.datetime(9998, 12, 31)

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass
class Pair:
    """A contract type and the client type generated for it."""

    name: str
    contract: Any
    client: Any

    @functools.cached_property
    def valid(self) -> st.SearchStrategy[Any]:
        """Valid messages of the contract type."""
        return VALID.of(mi.type_info(self.contract))

    @functools.cached_property
    def loose(self) -> st.SearchStrategy[Any]:
        """Messages that may break the contract type's rules, often at the top."""
        info = mi.type_info(self.contract)
        return LOOSE.of(info) | LOOSE.broken(info)


def _names(model: ContractModel) -> list[str]:
    return [
        *(d.name for d in model.definitions),
        *(f"{t.wire_name} args" for t in model.tasks),
        *(f"{t.wire_name} result" for t in model.tasks),
    ]


def _constrained_fields(model: ContractModel) -> list[str]:
    """``Owner.field`` for each field or parameter whose type carries ``msgspec.Meta``
    constraints: checked on their own too, so a constraint is not hidden behind the first
    error of a whole message."""
    found = [
        f"{d.name}.{f.name}"
        for d in model.definitions
        if not isinstance(d, EnumDef | NewTypeDef)
        for f in d.fields
        if _has_constraints(f.type)
    ]
    found += [
        f"{t.wire_name} args.{p.name}"
        for t in model.tasks
        for p in t.params
        if _has_constraints(p.type)
    ]
    return found


def _has_constraints(expr: TypeExpr) -> bool:
    if isinstance(expr, Constrained):
        return True
    if isinstance(expr, Container):
        return any(_has_constraints(a) for a in expr.args)
    if isinstance(expr, Union):
        return any(_has_constraints(o) for o in expr.options)
    return False


#: Read once at collection, for the test ids; the fixture loads the contract afresh.
_MODEL = load_contracts(CONTRACT)
NAMES = _names(_MODEL)
FIELDS = _constrained_fields(_MODEL)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Pair]]:
    """Every contract type beside its client type: the client is built into a temporary
    folder and imported from there."""
    root = tmp_path_factory.mktemp("roundtrip")
    model = load_contracts(CONTRACT)
    config = BuildConfig(
        contracts=str(CONTRACT),
        client_package=CLIENT,
        client_out=CLIENT,
        worker_out=None,
        root=str(root),
    )
    build_model(model, config)
    paths = [str(FIXTURES), str(root / CLIENT)]
    sys.path[:0] = paths
    try:
        models = importlib.import_module(f"{CLIENT}.models")
        tasks = importlib.import_module(f"{CLIENT}.tasks")
        found = {
            d.name: (_contract_definition(model, d.name), getattr(models, d.name))
            for d in model.definitions
        }
        for spec in model.tasks:
            function = getattr(importlib.import_module(f"every_type.{spec.module}"), spec.name)
            hints = typing.get_type_hints(function, include_extras=True)
            definition = getattr(tasks, task_constant(spec))
            found[f"{spec.wire_name} args"] = (
                _arguments(args_class(spec), function, hints),
                getattr(tasks, args_class(spec)),
            )
            found[f"{spec.wire_name} result"] = (hints["return"], definition.result)
        for name in FIELDS:
            owner, _, field = name.rpartition(".")
            found[name] = tuple(_field_type(cls, field) for cls in found[owner])
        assert sorted(found) == sorted(NAMES + FIELDS)
        yield {name: Pair(name, *types) for name, types in found.items()}
    finally:
        for path in paths:
            sys.path.remove(path)
        for module in [m for m in sys.modules if m == CLIENT or m.startswith(f"{CLIENT}.")]:
            del sys.modules[module]


def _contract_definition(model: ContractModel, name: str) -> Any:
    """The contract's own class (or NewType) of that name, from the module declaring it."""
    for module in ("kinds", "records", "shapes"):
        found = getattr(importlib.import_module(f"every_type.{module}"), name, None)
        if found is not None and getattr(found, "__name__", None) == name:
            return found
    raise LookupError(f"{name} is not declared in the every_type fixture")


def _field_type(cls: Any, field: str) -> Any:
    """The annotation of one field of a Struct, dataclass, TypedDict or NamedTuple."""
    if isinstance(cls, type) and issubclass(cls, msgspec.Struct):
        return next(f.type for f in msgspec.structs.fields(cls) if f.name == field)
    annotation = typing.get_type_hints(cls, include_extras=True)[field]
    if typing.get_origin(annotation) in (typing.Required, typing.NotRequired):
        return typing.get_args(annotation)[0]
    return annotation


def _arguments(name: str, function: Callable[..., Any], hints: dict[str, Any]) -> Any:
    """A Struct of a task's parameters, as the contract's signature declares them."""
    fields: list[Any] = []
    for param in inspect.signature(function).parameters.values():
        if param.default is param.empty:
            fields.append((param.name, hints[param.name]))
        else:
            fields.append((param.name, hints[param.name], param.default))
    return msgspec.defstruct(name, fields, kw_only=True, frozen=True)


# -- messages ----------------------------------------------------------------------------


class Messages:
    """Strategies for messages of a msgspec type, as the builtins JSON and msgpack carry.

    ``loose`` messages are mostly valid but may break any rule the type sets: a value out
    of its constraints, a wrong type, a missing or unknown field, a wrong tag, a tuple of
    the wrong length."""

    def __init__(self, *, loose: bool) -> None:
        self.loose = loose
        self._classes: dict[type, st.SearchStrategy[Any]] = {}

    def of(self, t: mi.Type) -> st.SearchStrategy[Any]:
        valid = self._valid(t)
        if not self.loose:
            return valid
        # about one node in six breaks a rule: more would hide a mistake behind the first
        broken = self.broken(t)
        return st.integers(0, 5).flatmap(lambda n: broken if n == 0 else valid)

    def _valid(self, t: mi.Type) -> st.SearchStrategy[Any]:
        if isinstance(t, mi.Metadata):
            return self.of(t.type)
        if isinstance(t, mi.NoneType):
            return st.none()
        if isinstance(t, mi.BoolType):
            return st.booleans()
        if isinstance(t, mi.IntType):
            return _integers(t)
        if isinstance(t, mi.FloatType):
            return _floats(t)
        if isinstance(t, mi.StrType):
            return _strings(t)
        if isinstance(t, mi.BytesType | mi.ByteArrayType):
            return st.binary(min_size=t.min_length or 0, max_size=t.max_length).map(_base64)
        if isinstance(t, mi.DateTimeType):
            return st.datetimes(EARLIEST, LATEST, timezones=_zones(t.tz)).map(_builtin)
        if isinstance(t, mi.TimeType):
            return st.times(timezones=_zones(t.tz)).map(_builtin)
        if isinstance(t, mi.DateType | mi.TimeDeltaType | mi.UUIDType | mi.DecimalType):
            return _scalars(t).map(_builtin)
        if isinstance(t, mi.EnumType):
            return _enum_values(t.cls)
        if isinstance(t, mi.LiteralType):
            return st.sampled_from(t.values)
        if isinstance(t, mi.UnionType):
            return st.one_of([self.of(option) for option in t.types])
        if isinstance(t, mi.TupleType):
            return st.tuples(*(self.of(i) for i in t.item_types)).map(list)
        if isinstance(t, mi.DictType):
            keys = Messages(loose=False).of(t.key_type)
            size = _sizes(t.min_length, t.max_length)
            return st.dictionaries(keys, self.of(t.value_type), min_size=size[0], max_size=size[1])
        if isinstance(t, mi.CollectionType):
            size = _sizes(t.min_length, t.max_length)
            return st.lists(self.of(t.item_type), min_size=size[0], max_size=size[1])
        if isinstance(t, mi.StructType | mi.DataclassType | mi.TypedDictType | mi.NamedTupleType):
            if t.cls not in self._classes:
                self._classes[t.cls] = st.deferred(lambda: _records(self, t))
            return self._classes[t.cls]
        raise NotImplementedError(f"no messages for {t!r}")

    def broken(self, t: mi.Type) -> st.SearchStrategy[Any]:
        """Values at and just past the type's bounds, and values of other kinds."""
        other_kinds: st.SearchStrategy[Any] = st.one_of(
            st.none(), st.booleans(), st.text(max_size=3), st.just([])
        )
        if isinstance(t, mi.IntType | mi.FloatType):
            bounds = [b for b in (t.gt, t.ge, t.lt, t.le) if b is not None] or [0]
            edges = {b + d for b in bounds for d in (-1, -0.5, 0, 0.5, 1)}
            edges |= {int(e) for e in edges}
            if t.multiple_of is not None:  # the multiples around each bound, and one off them
                step = t.multiple_of
                edges |= {
                    (b // step + k) * step + d
                    for b in bounds
                    for k in (-1, 0, 1, 2)
                    for d in (0, 1)
                }
            near = st.sampled_from(sorted(edges))
            return st.one_of(near, near, near, other_kinds)
        if isinstance(t, mi.StrType | mi.BytesType | mi.ByteArrayType):
            sizes = _edges(t.min_length, t.max_length)
            return sizes.flatmap(lambda n: st.text(min_size=n, max_size=n)) | other_kinds
        if isinstance(t, mi.CollectionType | mi.DictType) and (t.min_length or t.max_length):
            item = self._valid(t.item_type if isinstance(t, mi.CollectionType) else t.value_type)
            if isinstance(t, mi.DictType):
                keys = st.text(min_size=1)
                return _edges(t.min_length, t.max_length).flatmap(
                    lambda n: st.dictionaries(keys, item, min_size=n, max_size=n)
                )
            return _edges(t.min_length, t.max_length).flatmap(
                lambda n: st.lists(item, min_size=n, max_size=n)
            )
        if isinstance(t, mi.EnumType | mi.LiteralType):
            return st.integers(-1, 12) | st.text(max_size=4) | st.none()
        if isinstance(t, mi.TupleType):
            return st.lists(st.integers(0, 3), max_size=len(t.item_types) + 1)
        if isinstance(t, mi.DateTimeType | mi.TimeType):
            return st.datetimes(EARLIEST, LATEST, timezones=_zones(None)).map(_builtin)
        return other_kinds


def _zones(tz: bool | None) -> st.SearchStrategy[Any]:
    """Time zones for ``tz=True`` (aware only), ``tz=False`` (naive only), or either."""
    if tz is None:
        return st.one_of(st.none(), OFFSETS)
    return OFFSETS if tz else st.none()


def _edges(low: int | None, high: int | None) -> st.SearchStrategy[int]:
    """Sizes at and just past a length constraint's bounds."""
    sizes = {n for b in (low, high) if b is not None for n in (b - 1, b, b + 1) if n >= 0}
    return st.sampled_from(sorted(sizes or {0, 1}))


@st.composite
def _records(draw: st.DrawFn, messages: Messages, t: Any) -> Any:
    """A Struct, dataclass, TypedDict or NamedTuple message: an object, or an array."""
    fields = list(t.fields)
    as_array = isinstance(t, mi.NamedTupleType) or getattr(t, "array_like", False)
    if as_array:  # an array holds the fields up to the last required one, and maybe more
        needed = max((i + 1 for i, f in enumerate(fields) if f.required), default=0)
        chosen = fields[: draw(st.integers(needed, len(fields)))]
    else:
        chosen = [f for f in fields if f.required or draw(st.booleans())]
    values = {f.encode_name: draw(messages.of(f.type)) for f in chosen}
    tag_field, tag = getattr(t, "tag_field", None), getattr(t, "tag", None)
    if messages.loose:
        mistake = draw(st.sampled_from(["none", "drop", "extra", "tag"]))
        if mistake == "drop" and values:
            del values[draw(st.sampled_from(sorted(values)))]
        elif mistake == "extra":
            values["unknown_field"] = draw(st.integers(0, 3))
        elif mistake == "tag" and tag is not None:
            tag = draw(st.sampled_from(["other", 99, None]))
    if as_array:
        items = list(values.values())
        return [tag, *items] if tag_field is not None else items
    if tag_field is not None and tag is not None:
        values = {tag_field: tag, **values}
    return values


def _integers(t: mi.IntType) -> st.SearchStrategy[int]:
    low = t.ge if t.ge is not None else t.gt + 1 if t.gt is not None else INT64[0]
    high = t.le if t.le is not None else t.lt - 1 if t.lt is not None else INT64[1]
    step = t.multiple_of or 1
    return st.integers(math.ceil(low / step), high // step).map(lambda n: n * step)


def _floats(t: mi.FloatType) -> st.SearchStrategy[float]:
    if t.multiple_of is not None:
        raise NotImplementedError("float multiple_of: add it when a contract uses it")
    return st.floats(
        min_value=t.ge if t.ge is not None else t.gt,
        max_value=t.le if t.le is not None else t.lt,
        exclude_min=t.gt is not None,
        exclude_max=t.lt is not None,
        allow_nan=False,
        allow_infinity=False,
    )


def _strings(t: mi.StrType) -> st.SearchStrategy[str]:
    low, high = t.min_length or 0, t.max_length
    if t.pattern is None:
        return st.text(min_size=low, max_size=high)
    return st.from_regex(t.pattern).filter(
        lambda s: len(s) >= low and (high is None or len(s) <= high)
    )


def _scalars(t: mi.Type) -> st.SearchStrategy[Any]:
    if isinstance(t, mi.DateType):
        return st.dates()
    if isinstance(t, mi.TimeDeltaType):
        return st.timedeltas()
    if isinstance(t, mi.UUIDType):
        return st.uuids()
    return st.decimals(allow_nan=False, allow_infinity=False)


def _enum_values(cls: type[enum.Enum]) -> st.SearchStrategy[Any]:
    values = st.sampled_from(sorted({m.value for m in cls}, key=repr))
    if issubclass(cls, enum.Flag):  # any combination of the flags is a value too
        every = 0
        for member in cls:
            every |= member.value
        return values | st.integers(0, every)
    return values


def _sizes(low: int | None, high: int | None) -> tuple[int, int]:
    """Collections stay small: recursion and the examples' budget both need it."""
    low = low or 0
    return low, min(high if high is not None else low + 3, low + 3)


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _builtin(value: Any) -> Any:
    return msgspec.to_builtins(value)


# -- checks ------------------------------------------------------------------------------

Encode: TypeAlias = Callable[[Any], bytes]
Decode: TypeAlias = Callable[..., Any]

FORMATS: dict[str, tuple[Encode, Decode]] = {
    "json": (JSON.encode, msgspec.json.decode),
    "msgpack": (MSGPACK.encode, msgspec.msgpack.decode),
}


def equal(a: Any, b: Any) -> bool:
    """The same value, field by field (a Struct with ``eq=False`` compares by identity)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, msgspec.Struct) or dataclasses.is_dataclass(a):
        names = (
            a.__struct_fields__
            if isinstance(a, msgspec.Struct)
            else [f.name for f in dataclasses.fields(a)]
        )
        return all(equal(getattr(a, n), getattr(b, n)) for n in names)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def outcome(decode: Decode, encode: Encode, data: bytes, tp: Any) -> tuple[str, Any]:
    """Whether ``tp`` accepts the message (and how it encodes it again), or why not."""
    try:
        value = decode(data, type=tp)
    except msgspec.ValidationError as exc:
        return "rejected", str(exc)
    return "accepted", encode(value)


VALID = Messages(loose=False)
LOOSE = Messages(loose=True)


@pytest.mark.parametrize("name", NAMES)
def test_client_type_has_the_contract_types_json_schema(name: str, pairs: dict[str, Pair]) -> None:
    pair = pairs[name]
    client, contract = msgspec.json.schema(pair.client), msgspec.json.schema(pair.contract)
    if name.endswith(" args"):  # only the client's args Struct has a docstring
        args = client["$ref"].rpartition("/")[2]
        del client["$defs"][args]["description"]
    assert client == contract


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_valid_messages_round_trip_through_the_client_type(
    name: str, pairs: dict[str, Pair], data: st.DataObject
) -> None:
    pair = pairs[name]
    message = data.draw(pair.valid, label="message")
    value = msgspec.json.decode(JSON.encode(message), type=pair.contract)
    for encode, decode in FORMATS.values():
        # both values come from the same bytes, so even their sets iterate in one order
        wire = encode(value)
        contract_value = decode(wire, type=pair.contract)
        client_value = decode(wire, type=pair.client)
        assert encode(client_value) == encode(contract_value)
        back = decode(encode(client_value), type=pair.contract)
        assert equal(back, value), (back, value)


@pytest.mark.parametrize("name", NAMES + FIELDS)
@EXAMPLES
@given(data=st.data())
def test_contract_and_client_accept_and_reject_the_same_messages(
    name: str, pairs: dict[str, Pair], data: st.DataObject
) -> None:
    pair = pairs[name]
    message = data.draw(pair.loose, label="message")
    for encode, decode in FORMATS.values():
        wire = encode(message)
        assert outcome(decode, encode, wire, pair.client) == outcome(
            decode, encode, wire, pair.contract
        )
