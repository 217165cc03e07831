"""The queue runtime: what generated clients and worker glue build on."""

from taskgen.contract.dsl import NO_RETRY, Priority, Retry
from taskgen.runtime.binding import Binding, handler, import_handlers
from taskgen.runtime.caller import SyncTaskCaller, SyncTaskClient, TaskCaller, TaskClient
from taskgen.runtime.client import Client
from taskgen.runtime.context import Context
from taskgen.runtime.deadletters import DeadLetter, DeadLetters
from taskgen.runtime.errors import (
    ContractMismatch,
    EnqueueFailed,
    HandlerMismatch,
    QueueMismatch,
    QueueMismatchWarning,
    ResultMismatch,
    ResultTimeout,
    RetryLater,
    TaskAborted,
    TaskError,
    TaskExpired,
    TaskFailed,
    TaskgenError,
    TaskRejected,
    TaskTimedOut,
)
from taskgen.runtime.handle import TaskHandle
from taskgen.runtime.sync import SyncClient, SyncTaskHandle
from taskgen.runtime.taskdef import Call, EnqueueOptions, TaskDef
from taskgen.runtime.wire import TaskStatus
from taskgen.runtime.worker import Worker

__all__ = [
    "NO_RETRY",
    "Binding",
    "Call",
    "Client",
    "Context",
    "ContractMismatch",
    "DeadLetter",
    "DeadLetters",
    "EnqueueFailed",
    "EnqueueOptions",
    "HandlerMismatch",
    "Priority",
    "QueueMismatch",
    "QueueMismatchWarning",
    "ResultMismatch",
    "ResultTimeout",
    "Retry",
    "RetryLater",
    "SyncClient",
    "SyncTaskCaller",
    "SyncTaskClient",
    "SyncTaskHandle",
    "TaskAborted",
    "TaskCaller",
    "TaskClient",
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
    "handler",
    "import_handlers",
]
