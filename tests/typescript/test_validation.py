"""Checked before sending, as msgspec checks: the TypeScript client refuses exactly the
arguments a worker's msgspec would refuse for a ``Meta`` constraint, with msgspec's message and
path. Every constrained position of the every-type fixture is broken one at a time, at and just
past each bound (hypothesis adds values near them), and the same arguments go to msgspec and,
in Node, to the generated client. Only values a TypeScript caller can write are tried: an
integral float is an int there, and a datetime is always a Date.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskgen.runtime import bigint
from tests.typescript.test_agreement import NOW, TASKS, replay

STAMP = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)

#: Valid arguments of containers.constrain, broken one parameter at a time below.
CONSTRAIN = {
    "small": 4,
    "ratio": 0.5,
    "code": "123",
    "stamp": STAMP,
    "few": [2],
    "labels": {"a": "slug-1"},
    "email": "a@b.c",
    "titled": "",
}

#: Digits outside ASCII: Python's ``\d`` takes them.
FULLWIDTH_123 = "\uff11\uff12\uff13"

#: (parameter, broken value) pairs: each bound, each side of it, and other kinds.
BROKEN: list[tuple[str, Any]] = [
    *(("small", v) for v in (-2, -1, 1, 3, 11, 12, 100, "4", 4.5, None)),
    *(("ratio", v) for v in (0.0, -0.5, 1.0, 1.5, "x", None)),
    *(("code", v) for v in ("12", "1234", "12a", "123\n", "abc", "", FULLWIDTH_123, 123)),
    *(("few", v) for v in ([], [2, 4, 6, 8], [1], [2, 3], [2, 12], [-2], ["2"], [None])),
    *(("labels", v) for v in ({"": "a"}, {"a": ""}, {"a": "A"}, {"a": "x" * 41}, {"a": "a b"})),
    *(("email", v) for v in ("", "no-at", "a@b\n", "a @b.c", "@b.c", "a@" + "b" * 253, 5)),
]


def _sample(wire_name: str, args: dict[str, Any], index: int) -> dict[str, Any]:
    task = TASKS[wire_name]
    return {
        "task": wire_name,
        "args": bigint.encode(args).hex(),
        "id": f"{index:032x}",
        "now": NOW,
        "priority": int(task.spec.options.priority),
    }


def _msgspec_says(wire_name: str, args: dict[str, Any]) -> str | None:
    try:
        msgspec.msgpack.decode(bigint.encode(args), type=TASKS[wire_name].args)
    except msgspec.ValidationError as exc:
        return str(exc)
    return None


def _agree(package: Path, cases: list[tuple[str, dict[str, Any]]]) -> list[str]:
    samples = [_sample(wire, args, i) for i, (wire, args) in enumerate(cases)]
    replies = replay(package, samples)
    problems = []
    for (wire, args), reply in zip(cases, replies, strict=True):
        expected = _msgspec_says(wire, args)
        if expected is None:
            if reply.startswith(("invalid:", "error:")):
                problems.append(f"{wire} {args!r}: msgspec accepts, TypeScript says {reply}")
        elif reply != f"invalid: {expected}":
            problems.append(f"{wire} {args!r}:\n  msgspec    {expected}\n  TypeScript {reply}")
    return problems


def test_each_broken_constraint_gets_msgspecs_message_and_path(every_ts: Path) -> None:
    cases = [("containers.constrain", {**CONSTRAIN, name: value}) for name, value in BROKEN]
    # Constraints inside records and behind NewTypes, with their nested paths.
    circle = {"kind": "Circle", "radius": 0.0}
    cases.append(("containers.choose_one", {**_choose_one(), "shape": circle}))
    cases.append(("scalars.money:v2", {"decimal": "1", "msgspec": -1}))
    # a few look invalid and are not: Python's `$` matches before a final newline, and its
    # `\d` matches any Unicode digit; the client must accept those too
    valid = [a for w, a in cases if _msgspec_says(w, a) is None]
    assert len(valid) == 3, valid
    problems = _agree(every_ts, cases)
    assert not problems, "\n".join(problems)


def _choose_one() -> dict[str, Any]:
    return {
        "maybe": None,
        "either": "x",
        "method": None,
        "choice": None,
        "numeric": 1,
        "shape": {"kind": "sq", "side": 1.0},
        "envelope": {"version": 1, "body": ""},
    }


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    small=st.lists(st.integers(-30, 30), min_size=30, max_size=30),
    ratio=st.lists(st.floats(-1.0, 2.0, allow_nan=False), min_size=30, max_size=30),
    code=st.lists(st.text(alphabet="0123456789a\n ", max_size=5), min_size=30, max_size=30),
    few=st.lists(st.lists(st.integers(-2, 12), max_size=5), min_size=30, max_size=30),
)
def test_values_near_the_bounds_are_judged_as_msgspec_judges_them(
    every_ts: Path, small: list[int], ratio: list[float], code: list[str], few: list[list[int]]
) -> None:
    """Valid and invalid alike: 120 values, one Node process."""
    cases = [
        ("containers.constrain", {**CONSTRAIN, name: value})
        for name, values in (("small", small), ("ratio", ratio), ("code", code), ("few", few))
        for value in values
    ]
    problems = _agree(every_ts, cases)
    assert not problems, "\n".join(problems)
