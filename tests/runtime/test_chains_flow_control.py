"""Chains, groups and chords enqueue past flow control's gate (the plain enqueue script), so
building one with a flow-controlled task is refused, before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from taskgen.runtime import Call, TaskDef, group
from taskgen.runtime.chains import Step
from tests.flow_fixture import FAIR, LIMITED, RATED, SINGLE, UNIQUE, WorkArgs
from tests.flows_fixture import DOUBLE, INC, IncArgs

FLOWED = [LIMITED, SINGLE, UNIQUE, RATED, FAIR]

BUILDS: dict[str, Callable[[TaskDef[WorkArgs, str]], object]] = {
    "first call of a chain": lambda t: Call(t, WorkArgs(key="k")).then(Step(DOUBLE, {})),
    "later step": lambda t: Step(t, {}),
    "group member": lambda t: group([Call(INC, IncArgs(n=1)), Call(t, WorkArgs(key="k"))]),
    "chord member": lambda t: group([Call(t, WorkArgs(key="k"))]).then(Step(DOUBLE, {})),
}


@pytest.mark.parametrize("task", FLOWED, ids=lambda t: t.name)
@pytest.mark.parametrize("build", list(BUILDS.values()), ids=list(BUILDS))
def test_a_flow_controlled_task_cannot_be_composed(
    task: TaskDef[WorkArgs, str], build: Callable[[TaskDef[Any, Any]], object]
) -> None:
    with pytest.raises(TypeError, match=f"task {task.name} declares flow control"):
        build(task)


def test_plain_tasks_still_compose() -> None:
    assert len(group([Call(INC, IncArgs(n=n)) for n in range(3)])) == 3
    Call(INC, IncArgs(n=1)).then(Step(DOUBLE, {}))
