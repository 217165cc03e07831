"""The queue's Lua scripts, kept as files beside the code that calls them."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


@cache
def source(name: str) -> str:
    """The text of ``<name>.lua``."""
    return files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8")


#: The scripts that admit or end flow-controlled tasks: ``flow.lua`` is prepended to them.
FLOWED = frozenset({"abort", "complete", "flow_enqueue", "promote", "sweep"})


def text(name: str) -> str:
    """What is sent to Redis for ``<name>.lua``: its source, after ``flow.lua`` if it uses it."""
    return source("flow") + source(name) if name in FLOWED else source(name)


class Scripts:
    """Every script, registered on one asyncio Redis client and called by EVALSHA."""

    def __init__(self, redis: Redis) -> None:
        def load(name: str) -> AsyncScript:
            return redis.register_script(text(name))

        self.enqueue = load("enqueue")
        self.flow_enqueue = load("flow_enqueue")
        self.status = load("status")
        self.abort = load("abort")
        self.fetch = load("fetch")
        self.complete = load("complete")
        self.promote = load("promote")
        self.renew = load("renew")
        self.reclaim = load("reclaim")
        self.release = load("release")
        self.sweep = load("sweep")
        self.requeue = load("requeue")
        self.cron = load("cron")
        self.stats = load("stats")
        self.end_target = load("end_target")
        self.chord_member = load("chord_member")
        self.chord_open = load("chord_open")
