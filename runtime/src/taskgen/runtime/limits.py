"""How large a task may be: one default on both sides, checked before sending and before decoding.

A client refuses an envelope over its limit before anything is sent (``PayloadTooLarge``); a
worker dead-letters one over its own limit by its length alone, without decoding a byte of it,
so an entry written by something else cannot make it allocate what the payload claims.
"""

from __future__ import annotations

#: The default largest encoded task envelope, on the client (``Client.from_url(max_envelope_bytes=
#: ...)``) and on the worker (``Worker(max_envelope_bytes=...)``, ``--max-envelope-bytes``).
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024


def checked_limit(name: str, value: int) -> int:
    """``value`` if it is a usable byte limit; else a ``ValueError`` naming the option."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r}: give a number of bytes >= 1")
    return value


def oversized(size: int, limit: int) -> str:
    """Why a worker refused an entry over its envelope limit."""
    return (
        f"the envelope is {size:,} bytes, over this worker's limit of {limit:,} "
        "(Worker(max_envelope_bytes=...), taskgen worker --max-envelope-bytes); not decoded: "
        "store large data elsewhere and pass a reference to it, or raise the limit on both sides"
    )
