"""Moving a queue's slot to another primary of a Redis Cluster while it is in use.

A queue's scripts touch keys they do not declare (each task's hash, built from the queue's
base), so the server cannot redirect them key by key: they must never find part of the queue
on one node and part on the other. ``valkey-cli --cluster reshard`` MIGRATEs ten keys at a
time; this moves every key of the slot in the same MULTI that marks it MIGRATING, so scripts
run either wholly before the move (on the old primary) or wholly after it (redirected to the
new one, where they wait with TRYAGAIN until the slot is handed over).
"""

from __future__ import annotations

from typing import Any

import redis
from redis.crc import key_slot

from taskgen.runtime.cluster import parse_cluster_url
from taskgen.runtime.keys import DEFAULT_PREFIX, QueueKeys

#: Milliseconds MIGRATE may take to hand the keys over (it blocks the old primary meanwhile).
MIGRATE_TIMEOUT_MS = 60_000


def queue_slot(queue: str, prefix: str = DEFAULT_PREFIX) -> int:
    """The cluster slot every key of ``queue`` lives in."""
    return key_slot(QueueKeys(queue, prefix).streams[0].encode())


def move_queue(url: str, queue: str, target: str, *, prefix: str = DEFAULT_PREFIX) -> int:
    """Move the slot of ``queue`` (and of any queue sharing it) to the primary at ``target``
    (``host:port``) of the cluster ``url`` names; returns how many keys moved."""
    return move_slot(url, queue_slot(queue, prefix), target)


def move_slot(url: str, slot: int, target: str) -> int:
    """Move ``slot`` to the primary at ``target`` (``host:port``); returns how many keys moved."""
    parsed = parse_cluster_url(url)
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"the target primary must be host:port, not {target!r}")
    auth: dict[str, Any] = {"username": parsed.username, "password": parsed.password}
    if parsed.tls:
        auth["ssl"] = True
    # MIGRATE logs in to the new primary with the same credentials.
    login: list[str] = []
    if parsed.password is not None:
        login = ["AUTH", parsed.password]
        if parsed.username is not None:
            login = ["AUTH2", parsed.username, parsed.password]

    def node(address: tuple[str, int]) -> redis.Redis:
        return redis.Redis(host=address[0], port=address[1], socket_timeout=120, **auth)

    with node(parsed.nodes[0]) as entry:
        ranges = _slot_ranges(entry)
    primaries = {primary for _, _, primary in ranges}
    owner = next((primary for first, last, primary in ranges if first <= slot <= last), None)
    if owner is None:
        raise ValueError(f"no primary serves slot {slot}: is the cluster healthy?")
    destination = (host.strip("[]"), int(port))
    if destination not in primaries:
        raise ValueError(
            f"{target} is not a primary of this cluster: use one of "
            f"{', '.join(f'{h}:{p}' for h, p in sorted(primaries))}"
        )
    if destination == owner:
        return 0
    with node(owner) as source, node(destination) as receiver:
        source_id = source.execute_command("CLUSTER MYID").decode()
        target_id = receiver.execute_command("CLUSTER MYID").decode()
        receiver.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source_id)
        moved, migrating = 0, False
        while True:
            # Keys created between this read and the MULTI stay behind: the next pass takes them.
            keys = source.execute_command("CLUSTER GETKEYSINSLOT", slot, 1_000_000)
            if migrating and not keys:
                break
            with source.pipeline(transaction=True) as move:
                if not migrating:
                    move.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target_id)
                if keys:
                    move.execute_command(
                        "MIGRATE", *destination, "", 0, MIGRATE_TIMEOUT_MS, *login, "KEYS", *keys
                    )
                move.execute()
            migrating = True
            moved += len(keys)
        # The new owner first, then the old, then every other primary (as valkey-cli does).
        receiver.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
        source.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
    for other in primaries:
        if other not in (owner, destination):
            with node(other) as peer:
                peer.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
    return moved


def _slot_ranges(node: redis.Redis) -> list[tuple[int, int, tuple[str, int]]]:
    """(first slot, last slot, primary's host and port) for each range, as CLUSTER SLOTS says."""
    reply: Any = node.cluster("slots")
    return [
        (int(entry[0]), int(entry[1]), (_text(entry[2][0]), int(entry[2][1]))) for entry in reply
    ]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
