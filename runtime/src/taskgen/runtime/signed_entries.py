"""Reading signed stream entries on a worker: the signature is checked before anything decodes.

A worker with ``signing`` opens each entry's frame for its queue and task id (the stream
field) and only then decodes the envelope; one that fails is dead-lettered undecoded
(``Unsigned``, ``BadSignature``). A worker without a key reads a signed envelope unchecked,
since it checks nothing anyway: so clients may start signing before the workers verify.
"""

from __future__ import annotations

import contextlib

import msgspec

from taskgen.runtime.delivery import Delivery
from taskgen.runtime.errors import SignatureRefused
from taskgen.runtime.signing import HEADER_SIZE, MAGIC, UNSIGNED, Signing
from taskgen.runtime.wire import ENVELOPE, Envelope


def opened_envelope(signing: Signing, delivery: Delivery) -> Envelope:
    """The entry's envelope once its signature checks out; ``SignatureRefused`` saying what
    to do, before decoding a byte, otherwise."""
    try:
        payload = signing.open_envelope(delivery.payload, delivery.keys.queue, delivery.task_id)
    except SignatureRefused as refused:
        hint = (
            "sign tasks on every client (Client.from_url(signing=...)), or let this worker "
            "accept unsigned ones during a rollout (--allow-unsigned)"
            if refused.kind == UNSIGNED
            else "if it is genuine, give this worker the key that signed it (old_keys, "
            "--old-signing-key-file); else it is forged: purge it"
        )
        raise SignatureRefused(f"{refused}; not decoded: {hint}", kind=refused.kind) from None
    return ENVELOPE.decode(payload)


def keyless_envelope(payload: bytes) -> Envelope | None:
    """A signed envelope read without checking (by a worker that holds no key); None if the
    payload is no signed frame or its envelope does not decode."""
    if payload[:4] != MAGIC:
        return None
    try:
        return ENVELOPE.decode(payload[HEADER_SIZE:])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None


def envelope_if_any(signing: Signing | None, delivery: Delivery) -> Envelope | None:
    """The entry's envelope if it can be read as a worker would (for a dead letter's details),
    else None."""
    with contextlib.suppress(Exception):
        if signing is not None:
            return opened_envelope(signing, delivery)
        return keyless_envelope(delivery.payload) or ENVELOPE.decode(delivery.payload)
    return None
