"""The queue runtime: what generated clients and worker glue build on.

The client side is imported here; the worker side (``Worker``, bindings, dead letters) is
imported on first use, so a backend that imports a generated client loads no worker module.
"""

from typing import TYPE_CHECKING, Any

from taskgen.runtime.caller import SyncTaskCaller, SyncTaskClient, TaskCaller, TaskClient
from taskgen.runtime.chains import Chain, Chainable, Chord, Group, Step, group
from taskgen.runtime.client import Client
from taskgen.runtime.context import Context, ProgressContext, TaskContext
from taskgen.runtime.errors import (
    ContractMismatch,
    EnqueueFailed,
    HandlerMismatch,
    PayloadTooLarge,
    ProgressMismatch,
    QueueMismatch,
    QueueMismatchWarning,
    ResultMismatch,
    ResultTimeout,
    RetryLater,
    SignatureRefused,
    TaskAborted,
    TaskError,
    TaskExpired,
    TaskFailed,
    TaskgenError,
    TaskRejected,
    TaskTimedOut,
)
from taskgen.runtime.flow import FlowControl
from taskgen.runtime.handle import TaskHandle
from taskgen.runtime.progress import Progress, ProgressType
from taskgen.runtime.progress_client import (
    ProgressHandle,
    ProgressTaskCaller,
    SyncProgressHandle,
    SyncProgressTaskCaller,
)
from taskgen.runtime.signing import Signing
from taskgen.runtime.sync import SyncClient, SyncTaskHandle
from taskgen.runtime.sync_workflow import SyncChainHandle, SyncChordHandle, SyncGroupHandle
from taskgen.runtime.taskdef import Call, EnqueueOptions, TaskDef
from taskgen.runtime.wire import TaskStatus
from taskgen.runtime.workflow import ChainHandle, ChordHandle, GroupHandle
from taskgen.vocabulary import NO_RETRY, Priority, Retry

if TYPE_CHECKING:
    from taskgen.runtime.binding import Binding, handler, import_handlers
    from taskgen.runtime.deadletters import DeadLetter, DeadLetters
    from taskgen.runtime.worker import Worker

#: Worker-side names, and the module each is imported from on first use.
_WORKER_SIDE = {
    "Binding": "taskgen.runtime.binding",
    "handler": "taskgen.runtime.binding",
    "import_handlers": "taskgen.runtime.binding",
    "DeadLetter": "taskgen.runtime.deadletters",
    "DeadLetters": "taskgen.runtime.deadletters",
    "Worker": "taskgen.runtime.worker",
}


def __getattr__(name: str) -> Any:
    """Import a worker-side name on first use."""
    module = _WORKER_SIDE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "NO_RETRY",
    "Binding",
    "Call",
    "Chain",
    "ChainHandle",
    "Chainable",
    "Chord",
    "ChordHandle",
    "Client",
    "Context",
    "ContractMismatch",
    "DeadLetter",
    "DeadLetters",
    "EnqueueFailed",
    "EnqueueOptions",
    "FlowControl",
    "Group",
    "GroupHandle",
    "HandlerMismatch",
    "PayloadTooLarge",
    "Priority",
    "Progress",
    "ProgressContext",
    "ProgressHandle",
    "ProgressMismatch",
    "ProgressTaskCaller",
    "ProgressType",
    "QueueMismatch",
    "QueueMismatchWarning",
    "ResultMismatch",
    "ResultTimeout",
    "Retry",
    "RetryLater",
    "SignatureRefused",
    "Signing",
    "Step",
    "SyncChainHandle",
    "SyncChordHandle",
    "SyncClient",
    "SyncGroupHandle",
    "SyncProgressHandle",
    "SyncProgressTaskCaller",
    "SyncTaskCaller",
    "SyncTaskClient",
    "SyncTaskHandle",
    "TaskAborted",
    "TaskCaller",
    "TaskClient",
    "TaskContext",
    "TaskDef",
    "TaskError",
    "TaskExpired",
    "TaskFailed",
    "TaskHandle",
    "TaskRejected",
    "TaskStatus",
    "TaskTimedOut",
    "TaskgenError",
    "Worker",
    "group",
    "handler",
    "import_handlers",
]
