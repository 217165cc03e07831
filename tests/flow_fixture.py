"""Hand-written flow-controlled task definitions for runtime tests: what codegen emits for
``concurrency=``, ``rate=``, ``unique=`` and ``fair=`` (see docs/flow-control.md), kept small."""

from __future__ import annotations

import msgspec

from taskgen.runtime import TaskDef
from taskgen.runtime.flow import FlowControl


class WorkArgs(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    seconds: float = 0.0
    tag: str = ""


def _key(args: WorkArgs) -> str:
    return args.key


def _define(name: str, flow: FlowControl[WorkArgs] | None) -> TaskDef[WorkArgs, str]:
    return TaskDef[WorkArgs, str](
        name=name,
        queue="flow",
        fingerprint=f"{name}-v1",
        args=WorkArgs,
        result=str,
        params=(("key", "keyword_only"), ("seconds", "keyword_only"), ("tag", "keyword_only")),
        flow=flow,
    )


#: At most 2 running at once per key.
LIMITED = _define("flow.limited", FlowControl("flow.limited", concurrency=(_key, 2)))
#: At most 1 running at once per key.
SINGLE = _define("flow.single", FlowControl("flow.single", concurrency=(_key, 1)))
#: One queued or running task per key.
UNIQUE = _define("flow.unique", FlowControl("flow.unique", unique=(_key, None)))
#: 5 starts a second per key, 5 at once at most.
RATED = _define("flow.rated", FlowControl("flow.rated", rate=(_key, 5, 1.0)))
#: Keys served round-robin, 2 tasks on the ready stream at most.
FAIR = _define("flow.fair", FlowControl("flow.fair", fair=(_key, 2)))
#: A plain task on the same queue, for the tasks that must keep flowing.
PLAIN = _define("flow.plain", None)

TASKS = (LIMITED, SINGLE, UNIQUE, RATED, FAIR, PLAIN)
