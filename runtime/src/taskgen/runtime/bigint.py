"""Python ints of any size on the wire.

msgpack integers hold 64 bits (``-2**63`` to ``2**64 - 1``), while a Python ``int`` has no
bound. Values that fit travel as plain msgpack integers, as before. Only when msgspec refuses a
value for its size (``OverflowError``) is it encoded again, each out-of-range int replaced by a
msgpack extension value: type code ``BIG_INT`` and, as payload, the int in big-endian two's
complement, in as few bytes as hold its sign (Java's ``BigInteger.toByteArray``, Python's
``int.to_bytes(..., signed=True)``). A typed decoder refuses an extension where the type says
``int``, so that rare refusal decodes the bytes again untyped, turns the extensions back into
ints and converts the result to the type. The common case pays for neither path.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")

#: The msgpack extension type code of an int outside the 64-bit range.
BIG_INT = 1

#: The msgpack integer range: msgspec encodes ints inside it natively.
SMALLEST, LARGEST = -(2**63), 2**64 - 1

#: Values ``to_builtins`` must leave alone, so the encoder spells them as it always does.
_AS_IS = (
    bytes,
    bytearray,
    memoryview,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    decimal.Decimal,
)

_ENCODER = msgspec.msgpack.Encoder()


class _Wide:
    """An int beyond 64 bits, marked for the fallback encoder (hashable, so it can be a key)."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def __hash__(self) -> int:
        return hash(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Wide) and other.value == self.value


def _wide_to_ext(value: Any) -> Any:
    if isinstance(value, _Wide):
        return to_ext(value.value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_WIDE_ENCODER = msgspec.msgpack.Encoder(enc_hook=_wide_to_ext)


def encode(value: Any) -> bytes:
    """``value`` as msgpack; ints beyond 64 bits become ``BIG_INT`` extension values."""
    try:
        return _ENCODER.encode(value)
    except OverflowError:
        plain = msgspec.to_builtins(value, builtin_types=_AS_IS, str_keys=False)
        return _WIDE_ENCODER.encode(_wrap(plain))


def to_ext(value: int) -> msgspec.msgpack.Ext:
    """One int as a ``BIG_INT`` extension value."""
    size = value.bit_length() // 8 + 1
    return msgspec.msgpack.Ext(BIG_INT, value.to_bytes(size, "big", signed=True))


def from_ext(data: bytes | memoryview) -> int:
    """The int a ``BIG_INT`` payload holds."""
    return int.from_bytes(data, "big", signed=True)


def _wrap(value: Any) -> Any:
    if type(value) is int:
        return value if SMALLEST <= value <= LARGEST else _Wide(value)
    if isinstance(value, list | tuple):
        return [_wrap(item) for item in value]
    if isinstance(value, dict):
        return {_wrap(key): _wrap(item) for key, item in value.items()}
    return value


class Decoder(Generic[T]):
    """A typed msgpack decoder that also reads ``BIG_INT`` values where the type says int."""

    __slots__ = ("_typed", "type")

    def __init__(self, type: Any) -> None:
        self.type = type
        self._typed: Callable[[bytes], T] = msgspec.msgpack.Decoder(type).decode

    def decode(self, buffer: bytes) -> T:
        """The value ``buffer`` holds, checked against the type."""
        try:
            return self._typed(buffer)
        except msgspec.ValidationError:
            # Rare: the typed decoder met an extension value. Only a BIG_INT one is ours.
            found: list[int] = []
            plain = msgspec.msgpack.decode(buffer, ext_hook=_collecting(found))
            if not found:
                raise
        value: T = msgspec.convert(plain, self.type)
        return value


def _collecting(found: list[int]) -> Callable[[int, memoryview], Any]:
    """An ``ext_hook`` that turns ``BIG_INT`` values into ints and notes that it met one."""

    def hook(code: int, data: memoryview) -> Any:
        if code != BIG_INT:
            return msgspec.msgpack.Ext(code, bytes(data))
        found.append(code)
        return from_ext(data)

    return hook
