"""The least-privilege ACL rule taskgen needs on Redis or Valkey: its keys and channels (all
under its prefix) and exactly the commands it sends, for a worker or a producer.

The commands run inside the Lua scripts are read from the scripts themselves (the server checks
them against the user's ACL too), so the rule follows the scripts; the commands sent from
Python are listed here with the reason for each. tests/runtime/test_acl.py runs workers,
clients and the CLI as users restricted to these rules and checks that the server denied
nothing (``ACL LOG``), so a new command cannot slip in unlisted.

The rule keeps to what Redis 6.2 understands: no key selectors (``%R~``), which Redis 7 added.
"""

from __future__ import annotations

import re
from typing import Literal

from taskgen.runtime.keys import DEFAULT_PREFIX
from taskgen.runtime.scripts import text

Role = Literal["worker", "producer"]
ROLES: tuple[Role, ...] = ("worker", "producer")

#: What every connection sends, with why.
CONNECTION: dict[str, str] = {
    "ping": "health checks, and the waiters' pub/sub keep-alive",
    "select": "a database other than 0 in the URL",
    "evalsha": "every script call",
    "script|load": "loading a script the server does not hold yet (after a restart)",
    "subscribe": "waiting for results, and the workers' control channel",
    "unsubscribe": "a result that arrived",
    "psubscribe": "the registry's change channels (clients)",
    "hget": "a stored result, and which queue serves a task (registry)",
}

#: What a worker (and ``taskgen dead``) sends from Python besides, with why.
WORKER: dict[str, str] = {
    "script|exists": "a pipeline that calls a script first checks that it is loaded",
    "xreadgroup": "blocking reads of new entries",
    "xgroup|create": "a queue's consumer groups, at start",
    "xgroup|createconsumer": "joining them at start",
    "xgroup|delconsumer": "leaving them at shutdown",
    "zrem": "dropping its heartbeat at shutdown",
    "hset": "its registry entry",
    "expire": "its registry entry's lifetime",
    "info": "the eviction-policy check at start (INFO memory)",
    "xlen": "taskgen dead list",
    "xrange": "taskgen dead list, requeue, purge",
    "xrevrange": "taskgen dead requeue/purge --all: the newest letter, where the pass stops",
    "xdel": "taskgen dead purge",
    "hscan": "sweeping the chain handoffs a dead worker left (relay.py)",
    "hdel": "deleting chain handoffs once carried on",
    "del": "a chord's key, once its callback is enqueued",
}

#: What a cluster client (``redis+cluster://``) sends besides, whatever its role, with why.
CLUSTER: dict[str, str] = {
    "cluster|slots": "reading the slot map: which primary serves which slots",
    "command": "reading where each command's keys are, to route it",
    "command|getkeys": "routing a command whose keys the COMMAND table does not locate",
    "eval": "a script inside a cluster pipeline (sent whole: a node may not hold it yet)",
}

#: The scripts each role runs. A producer enqueues, reads states and awaits results; aborting a
#: task (``abort``) deletes queue entries, which is left to the worker's rule.
SCRIPTS: dict[Role, tuple[str, ...]] = {
    "producer": ("enqueue", "flow_enqueue", "status", "registry_read", "chord_open"),
    "worker": (
        "enqueue",
        "flow_enqueue",
        "status",
        "abort",
        "registry_read",
        "fetch",
        "complete",
        "promote",
        "renew",
        "reclaim",
        "release",
        "sweep",
        "requeue",
        "cron",
        "registry_publish",
        "end_target",
        "chord_member",
        "chord_open",
    ),
}

#: Commands whose first argument is a subcommand, which the ACL grants one by one.
_CONTAINERS = frozenset({"xgroup", "xinfo", "client", "script", "config"})
_CALL = re.compile(r"redis\.p?call\(\s*'([A-Za-z]+)'(?:\s*,\s*'([A-Za-z]+)')?")


def _client_grants(server: tuple[int, ...] | None) -> set[str]:
    """The CLIENT subcommands redis-py sends on each new connection, granted where the server
    needs the grant: SETINFO (its library's name) from Redis 7.2 (and Valkey) on; Redis 7.0
    and 7.1 know neither SETINFO nor MAINT_NOTIFICATIONS and refuse grants of them (and answer
    "unknown subcommand" without a denial); Redis 6.2 checks the ACL before it knows the
    subcommand, so both must be granted there to keep its ACL log clean."""
    if server is None or server >= (7, 2):
        return {"client|setinfo"}
    if server >= (7, 0):
        return set()
    return {"client|setinfo", "client|maint_notifications"}


def script_commands(name: str) -> set[str]:
    """The commands (``command`` or ``command|subcommand``) that ``<name>.lua`` calls."""
    found = set()
    for command, sub in _CALL.findall(text(name)):
        command = command.lower()
        found.add(f"{command}|{sub.lower()}" if command in _CONTAINERS and sub else command)
    return found


def commands(
    role: Role, server: tuple[int, ...] | None = None, *, cluster: bool = False
) -> list[str]:
    """Every command ``role`` sends, sorted; ``server``: the server's version, if known;
    ``cluster``: through a ``redis+cluster://`` URL."""
    wanted = set(CONNECTION) | (set(WORKER) if role == "worker" else set())
    if cluster:
        wanted |= set(CLUSTER)
    for name in SCRIPTS[role]:
        wanted |= script_commands(name)
    return sorted(wanted | _client_grants(server))


def rule(
    role: Role,
    prefix: str = DEFAULT_PREFIX,
    server: tuple[int, ...] | None = None,
    *,
    cluster: bool = False,
) -> str:
    """The ACL rule, without user name, state or password: ``ACL SETUSER <name> on >pw <rule>``.

    Keys and channels: everything under ``<prefix>:``; the registry's channel pattern is granted
    literally, as the server requires of PSUBSCRIBE patterns."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if not prefix or any(c in prefix for c in " *?[]\\"):
        raise ValueError(
            f"prefix {prefix!r} cannot be granted as a key pattern: use a prefix without "
            "spaces or glob characters (* ? [ ] \\)"
        )
    grants = " ".join(f"+{command}" for command in commands(role, server, cluster=cluster))
    return (
        f"resetkeys resetchannels -@all {grants} ~{prefix}:* &{prefix}:* &{prefix}:{{*}}:registry"
    )


def parse_version(text: str) -> tuple[int, ...]:
    """``7.0`` or ``7.0.15`` as a tuple; a clear error for anything else."""
    if not re.fullmatch(r"\d+(\.\d+){0,2}", text):
        raise ValueError(f"server version {text!r}: expected numbers like 7.0 or 6.2.14")
    return tuple(int(part) for part in text.split("."))
