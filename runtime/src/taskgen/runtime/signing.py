"""Signed frames: an HMAC-SHA256 over the exact bytes, checked before anything decodes them.

Not wired into the client and the worker yet (issue 15 item 6 is in progress): this is the
frame both sides will use. A frame is ``MAGIC``, the signing key's id, the MAC, then the
payload. ``MAGIC`` starts with 0xc1, a byte msgpack never uses, so a signed frame is never
taken for an unsigned message and an unsigned message never for a signed one. The MAC also
covers a ``context`` (e.g. ``b"outcome:" + task id``), so a frame signed for one place cannot
be replayed in another.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from taskgen.runtime.errors import SignatureRefused

MAGIC = b"\xc1TG1"
#: Bytes of the key id and of the MAC in a frame.
KEY_ID_SIZE = 8
MAC_SIZE = hashlib.sha256().digest_size
HEADER_SIZE = len(MAGIC) + KEY_ID_SIZE + MAC_SIZE
#: The shortest key accepted, in bytes (HMAC-SHA256 gains nothing past 64).
MIN_KEY_BYTES = 16


def key_id(key: bytes) -> bytes:
    """The public name of a key: an HMAC of a constant, which reveals nothing of the key."""
    return hmac.digest(key, b"taskgen signing key id", "sha256")[:KEY_ID_SIZE]


class Signing:
    """Signs with ``key``; accepts frames signed with it or with any of ``old_keys`` (rotation:
    deploy the new key with the old one listed everywhere, then drop the old one)."""

    __slots__ = ("_accepted", "_key", "_key_id")

    def __init__(self, key: bytes | str, *, old_keys: Sequence[bytes | str] = ()) -> None:
        self._key = _checked(key, "key")
        self._key_id = key_id(self._key)
        self._accepted = {self._key_id: self._key}
        for position, old in enumerate(old_keys):
            checked = _checked(old, f"old_keys[{position}]")
            self._accepted.setdefault(key_id(checked), checked)

    def __repr__(self) -> str:
        return f"Signing(key id {self._key_id.hex()}, {len(self._accepted) - 1} old key(s))"

    def sign(self, payload: bytes, context: bytes = b"") -> bytes:
        """``payload`` framed with this signer's key id and its MAC."""
        return MAGIC + self._key_id + _mac(self._key, context, payload) + payload

    def open(self, frame: bytes, context: bytes = b"") -> bytes:
        """The payload of a frame signed by an accepted key for ``context``, not decoded;
        ``SignatureRefused`` saying why otherwise."""
        if not frame.startswith(MAGIC) or len(frame) < HEADER_SIZE:
            raise SignatureRefused("unsigned: the message carries no signature")
        start = len(MAGIC)
        kid = frame[start : start + KEY_ID_SIZE]
        key = self._accepted.get(kid)
        if key is None:
            raise SignatureRefused(
                f"signed with an unknown key (key id {kid.hex()}): add that key to old_keys, "
                "or it is forged"
            )
        payload = frame[HEADER_SIZE:]
        mac = frame[start + KEY_ID_SIZE : HEADER_SIZE]
        if not hmac.compare_digest(mac, _mac(key, context, payload)):
            raise SignatureRefused("forged: the signature does not match the message")
        return payload


def _mac(key: bytes, context: bytes, payload: bytes) -> bytes:
    # The context's length goes first, so no (context, payload) pair reads as another.
    return hmac.digest(key, len(context).to_bytes(4, "big") + context + payload, "sha256")


def _checked(key: bytes | str, name: str) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    if not isinstance(raw, bytes) or len(raw) < MIN_KEY_BYTES:
        raise ValueError(
            f"Signing {name}: give at least {MIN_KEY_BYTES} bytes of secret (e.g. "
            "secrets.token_hex(32)), as bytes or text"
        )
    return raw
