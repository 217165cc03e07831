"""A client's cached view of the contract registry, consulted before anything is queued.

The enqueue path asks ``admits(task)``: a dictionary look-up in the queue's cached view, no
round trip. Only when that says no, or the view is missing or too old, does ``check(task)``
read the registry: once per queue at first use, at most every ``MAX_AGE`` seconds after, and
again right before a refusal or a report (so none rests on a view that predates a join).
Views older than ``REFRESH`` are re-read in the background, and a worker joining or stopping
publishes on the queue's registry channel, which re-reads at once: a hint only, the stored
entries are the truth.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskgen.runtime.errors import ContractMismatch, QueueMismatch, QueueMismatchWarning
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.registry import (
    OK,
    Contract,
    Mode,
    RegistryKeys,
    RegistryView,
    channel_pattern,
    decode_contract,
    parse_entry,
    served_key,
)
from taskgen.runtime.scripts import source
from taskgen.runtime.stopping import stop_tasks
from taskgen.runtime.taskdef import TaskDef

log = logging.getLogger("taskgen.client")

#: Seconds after which a view is re-read in the background while it keeps serving.
REFRESH = 1.0
#: Seconds after which a view is too old to use: it is re-read before the enqueue.
MAX_AGE = 5.0


class RegistryCache:
    """Per queue, the latest read of its registry; decides whether a task may be queued."""

    def __init__(self, redis: Redis, prefix: str, mode: Mode) -> None:
        self._redis = redis
        self._prefix = prefix
        self.mode = mode
        self._read_script = redis.register_script(source("registry_read"))
        self._views: dict[str, RegistryView] = {}
        self._keys: dict[str, RegistryKeys] = {}
        self._channels: dict[bytes, str] = {}
        self._contracts: dict[str, Contract] = {}
        self._reading: dict[str, asyncio.Future[RegistryView]] = {}
        self._changed: set[asyncio.Future[RegistryView]] = set()
        self._warned: set[tuple[str, str, str]] = set()
        self._listener: asyncio.Task[None] | None = None

    def admits(self, task: TaskDef[Any, Any]) -> bool:
        """True when the cached view lets ``task`` be queued; False: call ``check``."""
        view = self._views.get(task.queue)
        if view is None:
            return False
        age = time.monotonic() - view.read_at
        if age > REFRESH:
            if age > MAX_AGE:
                return False
            self._read_soon(task.queue)
        return view.verdict(task) is OK

    async def check(self, task: TaskDef[Any, Any]) -> None:
        """Read the registry as needed; raise (or, in warn mode, warn) if ``task`` must not be
        queued as it is."""
        view = self._views.get(task.queue)
        if view is None or time.monotonic() - view.read_at > MAX_AGE:
            view = await self._read(task.queue)
        verdict = view.verdict(task)
        if verdict is not OK:
            # A refusal or a report rests on a read sent now, never on one that may predate
            # a join (a cached view, or a read already on its way).
            view = await self._fetch(task.queue)
            verdict = view.verdict(task)
        if verdict is OK:
            return
        served_on = await self._served_on(task)
        if verdict.kind == "refuse":
            raise ContractMismatch(
                task=task.name,
                queue=task.queue,
                fingerprint=task.fingerprint,
                worker_fingerprints=verdict.worker_fingerprints,
                served_on=served_on,
            )
        if verdict.kind == "unserved" or served_on is not None:
            self._report(task, served_on)
        # Queued: this view lets it pass from now on, so the hot path stays a look-up.
        view.verdicts[task] = OK

    def _report(self, task: TaskDef[Any, Any], served_on: str | None) -> None:
        """A task that would wait for a worker that may never come: an error in strict mode,
        else a warning, once per client."""
        if self.mode == "strict":
            raise QueueMismatch(task=task.name, queue=task.queue, served_on=served_on)
        reported = (task.queue, task.name, served_on or "")
        if reported not in self._warned:
            self._warned.add(reported)
            warnings.warn(
                QueueMismatchWarning(task=task.name, queue=task.queue, served_on=served_on),
                stacklevel=4,
            )

    async def close(self) -> None:
        """Stop listening for changes."""
        # redis-py may swallow a cancellation while it connects: stop_tasks insists.
        reads = [*self._reading.values(), *self._changed]
        await stop_tasks([*reads, *filter(None, [self._listener])])
        self._listener = None

    # -- reading ---------------------------------------------------------------------------

    def _read_soon(self, queue: str) -> None:
        self._start_read(queue)

    def _read_after_change(self, queue: str) -> None:
        """A read of its own: one already on its way may have been answered before the change."""
        reading = asyncio.ensure_future(self._fetch(queue))
        self._changed.add(reading)
        reading.add_done_callback(self._changed.discard)
        reading.add_done_callback(lambda done: self._read_done(queue, done, forget=False))

    async def _read(self, queue: str) -> RegistryView:
        """Read the queue's registry (joining a read already on its way)."""
        return await asyncio.shield(self._start_read(queue))

    def _start_read(self, queue: str) -> asyncio.Future[RegistryView]:
        reading = self._reading.get(queue)
        if reading is None:
            reading = self._reading[queue] = asyncio.ensure_future(self._fetch(queue))
            reading.add_done_callback(lambda done: self._read_done(queue, done))
        return reading

    def _read_done(
        self, queue: str, done: asyncio.Future[RegistryView], *, forget: bool = True
    ) -> None:
        if forget:
            self._reading.pop(queue, None)
        if not done.cancelled() and done.exception() is not None:
            # Whoever awaits it gets the error; a background read is simply tried again later.
            log.debug("reading the registry of %r failed: %s", queue, done.exception())

    async def _fetch(self, queue: str) -> RegistryView:
        self._listen()
        keys = self._registry_keys(queue)
        now, entries, sent = await self._read_script(
            keys=[keys.workers, keys.contracts], args=list(self._contracts)
        )
        for i in range(0, len(sent), 2):
            self._contracts[sent[i].decode()] = decode_contract(sent[i + 1])
        workers = [
            parse_entry(entries[i].decode(), entries[i + 1], int(now), self._contracts)
            for i in range(0, len(entries), 2)
        ]
        view = self._views[queue] = RegistryView(workers, time.monotonic())
        return view

    async def _served_on(self, task: TaskDef[Any, Any]) -> str | None:
        """The queue the newest worker running ``task`` serves it on, if not the task's own."""
        served = await self._redis.hget(served_key(self._prefix), task.name)
        queue = served.decode() if isinstance(served, bytes) else served
        return None if queue == task.queue else queue

    def _registry_keys(self, queue: str) -> RegistryKeys:
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = RegistryKeys(QueueKeys(queue, self._prefix))
            self._channels[keys.channel.encode()] = queue
        return keys

    # -- change hints ----------------------------------------------------------------------

    def _listen(self) -> None:
        if self._listener is None:
            self._listener = asyncio.ensure_future(self._hints())

    async def _hints(self) -> None:
        """Re-read a queue's registry when a worker of it joins or stops; after a lost
        connection, everything is re-read, since hints may have been missed meanwhile."""
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(channel_pattern(self._prefix))
                for queue in list(self._views):
                    self._read_soon(queue)
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None and message["type"] == "pmessage":
                        changed = self._channels.get(message["channel"])
                        if changed is not None:
                            self._read_after_change(changed)
            except RedisError as exc:
                log.debug("registry hints lost (%s); reconnecting", exc)
                await asyncio.sleep(REFRESH)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
