"""Dead letters: tasks that will not run again without a person deciding so.

Tasks land here when they exhaust their retries, fail validation against the worker's
contract, name a task no worker knows, carry an envelope that cannot be decoded, return a
result over the worker's size limit, or were delivered more often than ``max_deliveries``. Each
letter keeps the reason and the original envelope, so it can be requeued once the cause is
fixed (a new worker deployed, a bug fixed), or purged.

Requeueing never signs what it has not verified, so it cannot launder a forgery: a signed
letter whose signature checks out under the requeuer's ``signing`` goes back re-signed with a
fresh attempt count; any other signed letter goes back byte for byte, and an unsigned one
unsigned, for the worker to judge again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import msgspec
from redis.asyncio import Redis

from taskgen.runtime.errors import SignatureRefused
from taskgen.runtime.keys import DEFAULT_PREFIX, QueueKeys
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.signing import MAGIC, Signing, unverified
from taskgen.runtime.wire import ENCODER, ENVELOPE, OUTCOME, Outcome

#: Most letters read or written per round trip.
PAGE = 500


class DeadLetter(msgspec.Struct, frozen=True):
    """One dead task: why it died, and what it was."""

    entry: str
    task_id: str
    task: str
    reason: str
    envelope: bytes
    outcome: Outcome | None
    #: When it was dead-lettered, in epoch milliseconds (from the stream entry id).
    at: int


class DeadLetters:
    """List, requeue and purge the dead letters of one queue."""

    def __init__(
        self,
        redis: Redis,
        queue: str,
        prefix: str = DEFAULT_PREFIX,
        *,
        signing: Signing | None = None,
    ) -> None:
        self._redis = redis
        self.keys = QueueKeys(queue, prefix)
        self._scripts = Scripts(redis)
        self._signing = signing

    async def count(self) -> int:
        """How many letters the queue holds."""
        return int(await self._redis.xlen(self.keys.dead))

    async def list(self, limit: int = 100, after: str = "-") -> list[DeadLetter]:
        """Up to ``limit`` letters, oldest first, starting after entry id ``after``."""
        start = after if after == "-" else f"({after}"
        entries: Any = await self._redis.xrange(self.keys.dead, start, "+", count=limit)
        return [_letter(entry, fields) for entry, fields in entries]

    async def requeue(self, entries: Iterable[str] | None = None) -> int:
        """Put letters (all, when ``entries`` is None) back on the queue with fresh attempts."""
        requeued = 0
        async for letters in self._pages(entries):
            args: list[Any] = [self.keys.base]
            for letter in letters:
                fresh = _fresh(letter, self.keys.queue, self._signing)
                args += [letter.entry, letter.task_id, *fresh]
            requeued += await self._scripts.requeue(keys=[self.keys.dead], args=args)
        return requeued

    async def purge(self, entries: Iterable[str] | None = None) -> int:
        """Delete letters (all, when ``entries`` is None)."""
        purged = 0
        async for letters in self._pages(entries):
            purged += await self._redis.xdel(self.keys.dead, *(x.entry for x in letters))
        return purged

    async def _pages(self, entries: Iterable[str] | None) -> Any:
        if entries is None:
            # Every letter there is now, and none that arrives meanwhile: a requeued task that
            # a running worker dead-letters again must not be requeued again in the same pass
            # (nor, if it keeps failing, for ever).
            newest: Any = await self._redis.xrevrange(self.keys.dead, "+", "-", count=1)
            after = "-"
            while newest:
                page: Any = await self._redis.xrange(self.keys.dead, after, newest[0][0], PAGE)
                if not page:
                    return
                yield [_letter(entry, fields) for entry, fields in page]
                after = f"({page[-1][0].decode()}"
            return
        wanted = list(entries)
        for i in range(0, len(wanted), PAGE):
            found = []
            for entry in wanted[i : i + PAGE]:
                rows: Any = await self._redis.xrange(self.keys.dead, entry, entry)
                found += [_letter(e, f) for e, f in rows]
            if found:
                yield found


def _letter(entry: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
    raw_outcome = fields.get(b"outcome")
    try:
        outcome = OUTCOME.decode(unverified(raw_outcome)) if raw_outcome else None
    except msgspec.DecodeError:
        outcome = None
    entry_id = entry.decode()
    return DeadLetter(
        entry=entry_id,
        task_id=fields.get(b"id", b"?").decode(errors="replace"),
        task=fields.get(b"task", b"?").decode(errors="replace"),
        reason=fields.get(b"reason", b"").decode(errors="replace"),
        envelope=fields.get(b"envelope", b""),
        outcome=outcome,
        at=int(entry_id.split("-")[0]),
    )


def _entry_order(entry: str) -> tuple[int, int]:
    """A stream entry id as numbers, so ids compare in stream order."""
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)


def _fresh(letter: DeadLetter, queue: str, signing: Signing | None) -> tuple[int, bytes]:
    """The letter's priority level and its envelope, reset to a first attempt (a signed one
    only if its signature checks out: see the module's docstring)."""
    raw, task_id = letter.envelope, letter.task_id.encode()
    verified = None
    if raw[:4] == MAGIC and signing is not None:
        with contextlib.suppress(SignatureRefused):
            verified = signing.open_envelope(raw, queue, task_id)
    try:
        envelope = ENVELOPE.decode(unverified(raw) if verified is None else verified)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return 1, raw  # undecodable: requeued as it is, for a fixed worker
    if raw[:4] == MAGIC and verified is None:
        return envelope.priority, raw  # not ours to vouch for: the worker checks it again
    fresh = ENCODER.encode(msgspec.structs.replace(envelope, attempt=1, expires_at=0))
    if verified is not None and signing is not None:
        fresh = signing.sign_envelope(fresh, queue, task_id)
    return envelope.priority, fresh
