"""How a handler's ending becomes text that can be stored: whatever it raised or returned.

Every way a handler ends must end its task. An exception whose ``str()`` raises, a message
holding a lone surrogate (which UTF-8 cannot encode), a megabyte of traceback, a value of the
wrong type or of a gigabyte: each becomes an ``ErrorInfo`` that encodes, instead of an
exception raised while the worker records the ending (which left the task held forever).
"""

from __future__ import annotations

import random
import traceback
from typing import Any

import msgspec

from taskgen.runtime import bigint
from taskgen.runtime.binding import Binding
from taskgen.runtime.wire import ErrorInfo
from taskgen.vocabulary import Retry

#: Longest error message or traceback kept, in characters; a traceback keeps its end.
MAX_ERROR_TEXT = 16 * 1024

#: The default largest encoded result a worker stores (``Worker(max_result_bytes=...)``).
MAX_RESULT_BYTES = 16 * 1024 * 1024

#: Values whose size is known before encoding, so an oversized one is refused uncopied.
_SIZED = (bytes, bytearray, str)


def clean(text: str, limit: int = MAX_ERROR_TEXT, *, keep_end: bool = False) -> str:
    """Text that UTF-8 can encode (lone surrogates escaped), cut to ``limit`` characters."""
    if len(text) > limit:
        cut = len(text) - limit
        text = (
            f"[{cut} characters cut]\n{text[-limit:]}"
            if keep_end
            else f"{text[:limit]} [{cut} characters cut]"
        )
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_info(exc: BaseException) -> ErrorInfo:
    """What a handler raised, as text: its type, message and traceback; never raises."""
    kind = clean(type(exc).__qualname__, 200)
    try:
        message = str(exc)
    except BaseException as broken:  # a broken __str__ must not keep the task from ending
        message = f"<str() of this {kind} raised {type(broken).__qualname__}>"
    if not isinstance(exc, Exception):
        # KeyboardInterrupt, SystemExit, GeneratorExit and the like: say why the worker lives on.
        message = f"{message} (raised by the handler: it ends this task, not the worker)".lstrip()
    try:
        trace = "".join(traceback.format_exception(exc))
    except BaseException:
        trace = ""
    return ErrorInfo(kind, clean(message), clean(trace, keep_end=True))


def result_error(binding: Binding[Any, Any], value: Any, problem: str) -> ErrorInfo:
    """The handler returned a value that does not fit its task's result type."""
    returned = clean(type(value).__qualname__, 200)
    return ErrorInfo(
        "WrongResultType",
        clean(
            f"handler of {binding.task.name} returned {returned}, the contract says "
            f"{binding.result_spelling}: {problem}"
        ),
    )


def encode_result(binding: Binding[Any, Any], value: Any, limit: int) -> bytes | ErrorInfo:
    """The handler's value encoded for the wire, checked against the contract's result type
    (as the client will decode it) and against the size limit; or why it cannot be stored."""
    if isinstance(value, _SIZED) and len(value) > limit:
        return too_large(binding, len(value), limit)
    try:
        encoded = bigint.encode(value)
    except Exception as exc:
        return result_error(binding, value, f"it cannot be encoded ({exc})")
    if type(value) is not binding.plain_result:
        # Decoding what was encoded is the client's own check, so passing it here means the
        # client can read the value; a value of exactly a scalar result type needs no check.
        try:
            binding.task.result_decoder.decode(encoded)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
            return result_error(binding, value, str(exc))
    if len(encoded) > limit:
        return too_large(binding, len(encoded), limit)
    return encoded


def too_large(binding: Binding[Any, Any], size: int, limit: int) -> ErrorInfo:
    """The handler's value is larger than the worker stores."""
    return ErrorInfo(
        "ResultTooLarge",
        f"handler of {binding.task.name} returned a result of {size:,} bytes, over this "
        f"worker's limit of {limit:,} (Worker(max_result_bytes=...)); results travel through "
        "Redis: store large data elsewhere and return a reference to it",
    )


def misfit(problem: str, sent: str, expected: str) -> str:
    """Why arguments were rejected: a value outside the contract, or two contract versions."""
    if sent == expected:
        return (
            f"the payload does not fit the contract: {problem} (client and worker run the same "
            f"contract, fingerprint {expected}: the client passed a value that its Python type "
            "accepts but the contract's wire type does not, e.g. a bool or a float for an int; "
            "pass exactly the declared types)"
        )
    return (
        f"the payload does not fit this worker's contract: {problem} (the client runs contract "
        f"fingerprint {sent}, this worker {expected}: deploy matching versions, and run "
        "`taskgen check` before changing a contract)"
    )


def decoding_problem(exc: Exception) -> str:
    """Why a payload did not decode, in words."""
    if isinstance(exc, RecursionError):
        return "it is nested deeper than the worker decodes (Python's recursion limit)"
    return str(exc)


def retry_delay(policy: Retry, attempt: int) -> float:
    """Seconds before the try after ``attempt``: exponential, capped, optionally jittered."""
    delay = min(policy.max_delay, policy.backoff * 2 ** (attempt - 1))
    return random.uniform(delay / 2, delay) if policy.jitter else delay
