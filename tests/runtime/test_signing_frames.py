"""Signed frames (taskgen.runtime.signing): every payload round-trips; every change is refused."""

from __future__ import annotations

import hmac

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskgen.errors import TaskgenError
from taskgen.runtime.errors import SignatureRefused
from taskgen.runtime.signing import HEADER_SIZE, MAC_SIZE, Mac, Signing

KEY = b"k" * 32
NEW = b"n" * 32
payloads = st.binary(max_size=512)
contexts = st.binary(max_size=40)


@given(payloads, contexts)
def test_every_payload_round_trips_for_its_context(payload: bytes, context: bytes) -> None:
    signing = Signing(KEY)
    assert signing.open(signing.sign(payload, context), context) == payload


@given(payloads, contexts, st.data())
def test_any_changed_byte_is_refused(payload: bytes, context: bytes, data: st.DataObject) -> None:
    frame = bytearray(Signing(KEY).sign(payload, context))
    at = data.draw(st.integers(0, len(frame) - 1))
    frame[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises(SignatureRefused):
        Signing(KEY).open(bytes(frame), context)


@given(payloads, contexts, contexts)
def test_a_frame_is_refused_in_another_context(payload: bytes, one: bytes, other: bytes) -> None:
    if one != other:
        with pytest.raises(SignatureRefused, match="forged"):
            Signing(KEY).open(Signing(KEY).sign(payload, one), other)


msgpack = st.builds(msgspec.msgpack.encode, st.lists(st.integers(-(2**63), 2**63)))


@given(st.one_of(payloads, msgpack))
def test_an_unsigned_message_is_refused_as_unsigned(message: bytes) -> None:
    with pytest.raises(SignatureRefused, match="unsigned"):
        Signing(KEY).open(message)


def test_rotation_old_keys_are_accepted_the_new_key_signs() -> None:
    old_frame = Signing(KEY).sign(b"payload")
    rotated = Signing(NEW, old_keys=[KEY])
    assert rotated.open(old_frame) == b"payload"
    new_frame = rotated.sign(b"payload")
    assert new_frame[:HEADER_SIZE] != old_frame[:HEADER_SIZE]
    assert Signing(NEW).open(new_frame) == b"payload"
    with pytest.raises(SignatureRefused, match="unknown key"):
        Signing(KEY).open(new_frame)  # a worker not yet given the new key
    with pytest.raises(SignatureRefused, match="unknown key"):
        Signing(NEW).open(old_frame)  # once the old key is dropped


def test_a_frame_under_a_forged_key_id_is_refused_and_errors_are_taskgen_errors() -> None:
    forger = Signing(b"f" * 32)
    with pytest.raises(SignatureRefused, match="unknown key") as refused:
        Signing(KEY).open(forger.sign(b"x"))
    assert isinstance(refused.value, TaskgenError)
    assert "k" * 16 not in repr(Signing(KEY))  # the key never shows


@pytest.mark.parametrize("bad", [b"", b"short", "x" * 15, 42])
def test_short_keys_are_refused_clearly(bad: object) -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Signing(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"old_keys\[0\]"):
        Signing(KEY, old_keys=[bad])  # type: ignore[list-item]


@given(st.binary(min_size=16, max_size=200), contexts, payloads)
def test_the_mac_is_hmac_sha256_of_the_length_prefixed_context_and_payload(
    key: bytes, context: bytes, payload: bytes
) -> None:
    message = len(context).to_bytes(4, "big") + context + payload
    assert Mac(key).digest(context, payload) == hmac.digest(key, message, "sha256")
    frame = Signing(key).sign(payload, context)
    assert frame[HEADER_SIZE - MAC_SIZE : HEADER_SIZE] == hmac.digest(key, message, "sha256")
