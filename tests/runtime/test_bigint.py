"""Python ints of any size travel in arguments, Struct fields, containers and results.

msgpack integers stop at 64 bits; taskgen carries larger ints as a msgpack extension value
(``bigint.BIG_INT``). Hypothesis draws ints from the whole range, with the 64-bit edges
forced in, and checks both directions: what a client encodes a worker decodes, and what a
worker returns a client decodes, through the codec and through a real worker and Redis.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Annotated

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskgen.runtime import Binding, Client, Context, TaskDef, TaskRejected, bigint
from tests.tasks_fixture import running_worker

EDGES = [
    0,
    -1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    2**127,
    -(2**127),
    2**128 - 1,
    -(2**128),
]
INTS = st.one_of(
    st.sampled_from(EDGES),
    st.integers(),
    st.integers(min_value=-(2**66), max_value=2**66),
    st.integers(min_value=-(2**1000), max_value=2**1000),
)
SMALL = st.integers(min_value=-(2**63), max_value=2**64 - 1)


class Inner(msgspec.Struct, frozen=True, array_like=True):
    value: int
    label: str = ""


class Box(msgspec.Struct, frozen=True, tag=True):
    n: int
    many: list[int]
    by_key: dict[int, int]
    maybe: int | None
    pair: tuple[int, str]
    inner: Inner
    # Types whose msgpack spelling the fallback path must keep as it is.
    when: datetime.datetime
    blob: bytes
    ratio: float
    day: datetime.date


def boxes(ints: st.SearchStrategy[int]) -> st.SearchStrategy[Box]:
    return st.builds(
        Box,
        n=ints,
        many=st.lists(ints, max_size=4),
        by_key=st.dictionaries(ints, ints, max_size=3),
        maybe=st.none() | ints,
        pair=st.tuples(ints, st.text(max_size=3)),
        inner=st.builds(Inner, ints, st.text(max_size=3)),
        when=st.datetimes(
            min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(9000, 1, 1)
        ).map(lambda d: d.replace(tzinfo=datetime.UTC)),
        blob=st.binary(max_size=8),
        ratio=st.floats(allow_nan=False),
        day=st.dates(),
    )


EXAMPLES = settings(max_examples=200, deadline=None)


@EXAMPLES
@given(INTS)
def test_a_bare_int_of_any_size_round_trips(value: int) -> None:
    assert bigint.Decoder[int](int).decode(bigint.encode(value)) == value


@EXAMPLES
@given(boxes(INTS))
def test_ints_of_any_size_round_trip_in_struct_fields_and_containers(box: Box) -> None:
    assert bigint.Decoder[Box](Box).decode(bigint.encode(box)) == box
    # A contract type and its generated twin are distinct classes: the fallback converts by
    # shape, so a decoder of another class with the same fields reads the same bytes.
    assert bigint.Decoder[list[Box]](list[Box]).decode(bigint.encode([box, box])) == [box, box]


@EXAMPLES
@given(boxes(SMALL))
def test_ints_that_fit_64_bits_are_encoded_exactly_as_msgspec_encodes_them(box: Box) -> None:
    assert bigint.encode(box) == msgspec.msgpack.encode(box)


@pytest.mark.parametrize(
    ("value", "payload"),
    [
        (2**64, b"\x01" + bytes(8)),
        (-(2**63) - 1, b"\xff\x7f" + b"\xff" * 7),
        (-(2**64), b"\xff" + bytes(8)),
        (2**127, b"\x00\x80" + bytes(15)),
    ],
)
def test_the_extension_payload_is_big_endian_twos_complement(value: int, payload: bytes) -> None:
    assert bigint.encode(value) == msgspec.msgpack.encode(
        msgspec.msgpack.Ext(bigint.BIG_INT, payload)
    )
    # Another language may write a longer form (e.g. sign-extended to a word): still read.
    sign = b"\xff" if value < 0 else b"\x00"
    padded = msgspec.msgpack.Ext(bigint.BIG_INT, sign * 3 + payload)
    assert bigint.Decoder[int](int).decode(msgspec.msgpack.encode(padded)) == value


def test_a_value_that_does_not_fit_the_type_is_still_refused_with_its_place() -> None:
    class Bounded(msgspec.Struct):
        n: Annotated[int, msgspec.Meta(le=10)]

    with pytest.raises(msgspec.ValidationError, match=r"Expected `int` <= 10 - at `\$.n`"):
        bigint.Decoder[Bounded](Bounded).decode(bigint.encode({"n": 2**70}))
    with pytest.raises(msgspec.ValidationError, match=r"Expected `int`, got `str` - at `\$.n`"):
        bigint.Decoder[Bounded](Bounded).decode(bigint.encode({"n": "x"}))
    other = msgspec.msgpack.encode({"n": msgspec.msgpack.Ext(5, b"x")})
    with pytest.raises(msgspec.ValidationError, match=r"Expected `int`, got `ext` - at `\$.n`"):
        bigint.Decoder[Bounded](Bounded).decode(other)


# -- through a real worker and Redis ------------------------------------------------------


class EchoArgs(msgspec.Struct, frozen=True, kw_only=True):
    box: Box


class TotalArgs(msgspec.Struct, frozen=True, kw_only=True):
    numbers: list[int]


ECHO = TaskDef[EchoArgs, Box](
    name="big.echo",
    queue="big",
    fingerprint="echo",
    args=EchoArgs,
    result=Box,
    params=(("box", "positional"),),
)
TOTAL = TaskDef[TotalArgs, int](
    name="big.total",
    queue="big",
    fingerprint="total",
    args=TotalArgs,
    result=int,
    params=(("numbers", "positional"),),
)


async def echo(ctx: Context, box: Box) -> Box:
    return box


async def total(ctx: Context, numbers: list[int]) -> int:
    return sum(numbers)


BINDINGS = [
    Binding(ECHO, echo, lambda ctx, args, _: echo(ctx, args.box)),
    Binding(TOTAL, total, lambda ctx, args, _: total(ctx, args.numbers)),
]


@settings(
    max_examples=8,
    deadline=None,
    # Each example uses its own client, worker and random task ids on the shared server.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(boxes(INTS), min_size=1, max_size=10), st.lists(INTS, max_size=10))
def test_big_ints_cross_a_real_worker_both_ways(
    redis_url: str, sent: list[Box], numbers: list[int]
) -> None:
    async def round_trip() -> tuple[list[Box], int, int]:
        # Enqueued before the worker starts, so a failing enqueue fails the test at once.
        async with Client.from_url(redis_url) as client:
            handles = [await client.enqueue(ECHO, EchoArgs(box=b)) for b in sent]
            # aiotaskq's parity case: small arguments, a result beyond 64 bits.
            power = await client.enqueue(TOTAL, TotalArgs(numbers=[2**63, 2**63]))
            summed = await client.enqueue(TOTAL, TotalArgs(numbers=numbers))
            async with running_worker(redis_url, BINDINGS):
                echoed = [await h.result(timeout=10) for h in handles]
                return echoed, await power.result(timeout=10), await summed.result(timeout=10)

    echoed, power, summed = asyncio.run(round_trip())
    assert echoed == sent
    assert power == 2**64
    assert summed == sum(numbers)


Small = Annotated[int, msgspec.Meta(le=2**62)]


class SmallArgs(msgspec.Struct, frozen=True, kw_only=True):
    numbers: list[Small]


async def small_total(ctx: Context, numbers: list[Small]) -> int:
    return sum(numbers)


async def test_a_big_int_where_the_worker_wants_a_small_one_is_rejected(redis_url: str) -> None:
    strict = TaskDef[SmallArgs, int](
        name="big.total",
        queue="big",
        fingerprint="small",
        args=SmallArgs,
        result=int,
        params=(("numbers", "positional"),),
    )
    binding = Binding(strict, small_total, lambda ctx, args, _: small_total(ctx, args.numbers))
    async with Client.from_url(redis_url) as client:
        handle = await client.enqueue(TOTAL, TotalArgs(numbers=[1, 2**70]))
        async with running_worker(redis_url, [binding]):
            with pytest.raises(TaskRejected, match=r"at `\$.numbers\[1\]`"):
                await handle.result(timeout=10)
