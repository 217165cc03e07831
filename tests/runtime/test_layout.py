"""The Redis layout is spelled once: every task-hash field scripts or code use is in the table."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from taskgen.runtime.keys import TASK_FIELDS
from tests.support import REPO

SCRIPTS = files("taskgen.runtime") / "scripts"
RUNTIME = REPO / "runtime" / "src" / "taskgen" / "runtime"

#: A hash command on a task hash in Lua: the command, then everything up to the closing paren.
CALL = re.compile(r"redis\.call\('(H[A-Z]+)',\s*(\w+(?:\[\d+\])?|[^,]+?),\s*([^)]*)\)")
LITERAL = re.compile(r"^'([^']*)'$")


def lua_fields(text: str) -> set[str]:
    """Field names a script passes as literals to hash commands on task hashes."""
    fields: set[str] = set()
    for command, key, rest in CALL.findall(text):
        if "cron" in key.lower():  # the cron hash is keyed by job name, not a task field
            continue
        if "chord" in key.lower():  # a chord's hash is keyed by member index, not a task field
            continue
        args = [a.strip() for a in rest.split(",")]
        if command in ("HSET", "HMSET"):
            args = args[0::2]  # field, value, field, value, ...
        elif command in ("HGET", "HINCRBY", "HEXISTS", "HSETNX"):
            args = args[:1]
        fields |= {m.group(1) for a in args if (m := LITERAL.match(a))}
    return fields


def script_texts() -> dict[str, str]:
    return {p.name: p.read_text() for p in SCRIPTS.iterdir() if p.name.endswith(".lua")}


def used_fields() -> set[str]:
    used = set().union(*(lua_fields(t) for t in script_texts().values()))
    python = "\n".join(p.read_text() for p in RUNTIME.glob("*.py"))
    used |= set(re.findall(r'\.h(?:get|set|del|incrby)\([^,]+,\s*"(\w)"', python))
    return used


@pytest.mark.parametrize("name", sorted(script_texts()))
def test_every_field_a_script_uses_is_in_the_table(name: str) -> None:
    unknown = lua_fields(script_texts()[name]) - TASK_FIELDS.keys()
    assert not unknown, f"{name} uses task-hash fields missing from keys.TASK_FIELDS: {unknown}"


def test_every_field_in_the_table_is_used() -> None:
    assert TASK_FIELDS.keys() <= used_fields()


def test_the_reader_sees_fields_in_every_hash_command_form() -> None:
    text = """
    redis.call('HSET', key, 's', 'queued', 'l', level)
    redis.call('HMGET', KEYS[1], 's', 'e')
    redis.call('HINCRBY', key, 'r', 1)
    redis.call('HDEL', key, 'p')
    redis.call('HGET', KEYS[1], ARGV[2])
    """
    assert lua_fields(text) == {"s", "l", "e", "r", "p"}
