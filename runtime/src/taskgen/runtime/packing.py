"""Many values in one script argument.

redis-py spends a few microseconds on every argument of a command, which for a batch of
thousands of tasks costs more than the work itself. Batches therefore travel as one argument:
each value as a 4-byte big-endian length followed by its bytes, read back in Lua with
``struct.unpack('>I4', ...)``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

#: The length prefix of one value.
LENGTH = struct.Struct(">I").pack


def pack(values: Iterable[bytes]) -> bytes:
    """The values, each prefixed by its length."""
    return b"".join([LENGTH(len(v)) + v for v in values])


def unpack(packed: bytes) -> list[bytes]:
    """The values ``pack`` joined, in order."""
    values: list[bytes] = []
    at = 0
    while at < len(packed):
        size = int.from_bytes(packed[at : at + 4], "big")
        values.append(packed[at + 4 : at + 4 + size])
        at += 4 + size
    return values


def number(value: int) -> bytes:
    """An integer as the decimal text Lua's ``tonumber`` reads."""
    return b"%d" % value
