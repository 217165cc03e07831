"""Signed messages: an HMAC-SHA256 over the exact bytes, checked before anything decodes them.

A frame is ``MAGIC``, the signing key's id, the MAC, then the payload. ``MAGIC`` starts with
0xc1, a byte msgpack never uses, so a signed frame is never taken for an unsigned message and
an unsigned message never for a signed one. The MAC also covers a context: the queue and the
task id, and whether the payload is a task's envelope or its outcome. So a frame signed for
one task, queue or purpose cannot be replayed as another (docs/deployment.md, "Signing").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from taskgen.runtime.errors import SignatureRefused

MAGIC = b"\xc1TG1"
#: Bytes of the key id and of the MAC in a frame.
KEY_ID_SIZE = 8
MAC_SIZE = hashlib.sha256().digest_size
HEADER_SIZE = len(MAGIC) + KEY_ID_SIZE + MAC_SIZE
#: The shortest key accepted, in bytes (HMAC-SHA256 gains nothing past 64).
MIN_KEY_BYTES = 16
#: Dead-letter reasons (``SignatureRefused.kind``).
UNSIGNED, BAD_SIGNATURE = "Unsigned", "BadSignature"
#: What each kind of payload's context starts with.
ENVELOPE_PURPOSE, OUTCOME_PURPOSE = b"taskgen envelope\x00", b"taskgen outcome\x00"
#: The environment variables ``Signing.from_env`` reads.
KEY_VAR, OLD_KEYS_VAR, ALLOW_UNSIGNED_VAR = (
    "TASKGEN_SIGNING_KEY",
    "TASKGEN_SIGNING_OLD_KEYS",
    "TASKGEN_SIGNING_ALLOW_UNSIGNED",
)


#: HMAC's inner and outer pads (RFC 2104), as translation tables over the key's bytes.
IPAD, OPAD = bytes(b ^ 0x36 for b in range(256)), bytes(b ^ 0x5C for b in range(256))
BLOCK_SIZE = hashlib.sha256().block_size


def key_id(key: bytes) -> bytes:
    """The public name of a key: an HMAC of a constant, which reveals nothing of the key."""
    return hmac.digest(key, b"taskgen signing key id", "sha256")[:KEY_ID_SIZE]


def context(purpose: bytes, queue: str, task_id: bytes) -> bytes:
    """What a frame of ``purpose`` for this task of this queue is bound to."""
    name = queue.encode()
    return purpose + len(name).to_bytes(4, "big") + name + task_id


def unverified(raw: bytes) -> bytes:
    """The payload of a frame, unchecked (for display, and for readers holding no key); an
    unsigned message as it is."""
    return raw[HEADER_SIZE:] if raw[:4] == MAGIC else raw


class Mac:
    """HMAC-SHA256 under one key, its padded key hashed once: each MAC then costs two hash
    copies, half of what ``hmac.digest`` spends re-deriving them for every message (the
    tests check it against ``hmac.digest``)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > BLOCK_SIZE:
            key = hashlib.sha256(key).digest()
        key = key.ljust(BLOCK_SIZE, b"\0")
        self._inner = hashlib.sha256(key.translate(IPAD))
        self._outer = hashlib.sha256(key.translate(OPAD))

    def digest(self, context: bytes, payload: bytes) -> bytes:
        """The MAC of ``context`` (its length first, so no pair reads as another) and
        ``payload``, which is not copied."""
        inner = self._inner.copy()
        inner.update(len(context).to_bytes(4, "big") + context)
        inner.update(payload)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class Signing:
    """Signs with ``key``; accepts frames signed with it or with any of ``old_keys`` (rotation:
    deploy the new key with the old one listed everywhere, then drop the old one).

    ``allow_unsigned``: also accept unsigned messages (signed ones are still checked), for the
    rollout from no signing to signing; leave it False once every writer signs."""

    __slots__ = ("_accepted", "_contexts", "_key_id", "_mac", "allow_unsigned")

    def __init__(
        self,
        key: bytes | str,
        *,
        old_keys: Sequence[bytes | str] = (),
        allow_unsigned: bool = False,
    ) -> None:
        checked = _checked(key, "key")
        self._key_id = key_id(checked)
        self._mac = Mac(checked)
        self._accepted = {self._key_id: self._mac}
        for position, old in enumerate(old_keys):
            checked = _checked(old, f"old_keys[{position}]")
            self._accepted.setdefault(key_id(checked), Mac(checked))
        self.allow_unsigned = allow_unsigned
        #: Each queue's encoded context prefix per purpose: built once, not per task.
        self._contexts: dict[tuple[bytes, str], bytes] = {}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Self:
        """From ``TASKGEN_SIGNING_KEY``, ``TASKGEN_SIGNING_OLD_KEYS`` (separated by commas or
        spaces) and ``TASKGEN_SIGNING_ALLOW_UNSIGNED`` (``1``/``true``)."""
        env = os.environ if environ is None else environ
        key = env.get(KEY_VAR, "").strip()
        if not key:
            raise ValueError(
                f"{KEY_VAR} is not set: set it to the signing key (e.g. the output of "
                "python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        old = [k for k in re.split(r"[\s,]+", env.get(OLD_KEYS_VAR, "")) if k]
        allow = env.get(ALLOW_UNSIGNED_VAR, "").strip().lower() in ("1", "true", "yes")
        return cls(key, old_keys=old, allow_unsigned=allow)

    @classmethod
    def from_files(
        cls,
        key_file: str | Path,
        old_key_files: Sequence[str | Path] = (),
        *,
        allow_unsigned: bool = False,
    ) -> Self:
        """From files that each hold one key (surrounding whitespace is dropped)."""
        old = [_read_key(f) for f in old_key_files]
        return cls(_read_key(key_file), old_keys=old, allow_unsigned=allow_unsigned)

    def __repr__(self) -> str:
        unsigned = ", unsigned allowed" if self.allow_unsigned else ""
        old = len(self._accepted) - 1
        return f"Signing(key id {self._key_id.hex()}, {old} old key(s){unsigned})"

    def sign(self, payload: bytes, context: bytes = b"") -> bytes:
        """``payload`` framed with this signer's key id and its MAC."""
        return MAGIC + self._key_id + self._mac.digest(context, payload) + payload

    def open(self, frame: bytes, context: bytes = b"") -> bytes:
        """The payload of a frame signed by an accepted key for ``context``, not decoded;
        ``SignatureRefused`` saying why otherwise."""
        if frame[:4] != MAGIC:
            if self.allow_unsigned:
                return frame
            raise SignatureRefused("unsigned: the message carries no signature", kind=UNSIGNED)
        if len(frame) < HEADER_SIZE:
            raise SignatureRefused(
                f"forged: a truncated signature ({len(frame)} bytes)", kind=BAD_SIGNATURE
            )
        start = len(MAGIC)
        kid = frame[start : start + KEY_ID_SIZE]
        mac = self._accepted.get(kid)
        if mac is None:
            raise SignatureRefused(
                f"signed with an unknown key (key id {kid.hex()}): add that key to old_keys, "
                "or it is forged",
                kind=BAD_SIGNATURE,
            )
        payload = frame[HEADER_SIZE:]
        if not hmac.compare_digest(
            frame[start + KEY_ID_SIZE : HEADER_SIZE], mac.digest(context, payload)
        ):
            raise SignatureRefused(
                "forged: the signature does not match the message (or it was signed for "
                "another task or queue)",
                kind=BAD_SIGNATURE,
            )
        return payload

    def context(self, purpose: bytes, queue: str, task_id: bytes) -> bytes:
        """``context(purpose, queue, task_id)``, with the queue's part built once."""
        prefix = self._contexts.get((purpose, queue))
        if prefix is None:
            prefix = self._contexts[purpose, queue] = context(purpose, queue, b"")
        return prefix + task_id

    def sign_envelope(self, envelope: bytes, queue: str, task_id: bytes) -> bytes:
        """A task's encoded envelope, signed for its queue and id."""
        return self.sign(envelope, self.context(ENVELOPE_PURPOSE, queue, task_id))

    def open_envelope(self, frame: bytes, queue: str, task_id: bytes) -> bytes:
        """The envelope of a stream entry, if signed for this queue and task id."""
        return self.open(frame, self.context(ENVELOPE_PURPOSE, queue, task_id))

    def sign_outcome(self, outcome: bytes, queue: str, task_id: bytes) -> bytes:
        """A task's encoded outcome, signed for its queue and id."""
        return self.sign(outcome, self.context(OUTCOME_PURPOSE, queue, task_id))

    def open_outcome(self, frame: bytes, queue: str, task_id: bytes) -> bytes:
        """The encoded outcome of a task, if signed for its queue and id."""
        return self.open(frame, self.context(OUTCOME_PURPOSE, queue, task_id))


def _checked(key: bytes | str, name: str) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    if not isinstance(raw, bytes) or len(raw) < MIN_KEY_BYTES:
        raise ValueError(
            f"Signing {name}: give at least {MIN_KEY_BYTES} bytes of secret (e.g. "
            "secrets.token_hex(32)), as bytes or text"
        )
    return raw


def _read_key(path: str | Path) -> bytes:
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ValueError(
            f"signing key file {path}: cannot be read ({exc.strerror}); give a readable file "
            "holding the key"
        ) from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"signing key file {path}: holds {len(key)} bytes; give at least {MIN_KEY_BYTES} "
            "bytes of secret (e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key
