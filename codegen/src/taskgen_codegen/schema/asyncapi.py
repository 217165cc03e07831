"""An AsyncAPI 3.0 document for the queues: one channel per queue, one message per task.

The message payload is the envelope (a 10-item msgpack array, docs/wire.md) whose ``args``
item is the task's arguments, inline; its schema points at the task's arguments schema file.
"""

from __future__ import annotations

from typing import Any

from taskgen.runtime.keys import DEFAULT_PREFIX, LEVELS
from taskgen_codegen.contract.model import ContractModel, TaskSpec
from taskgen_codegen.schema.jsonschema import WIRE_NOTE, file_stem

VERSION = "3.0.0"


def asyncapi(model: ContractModel, version: str) -> dict[str, Any]:
    """The AsyncAPI document of the contract's queues and tasks."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for task in model.tasks:
        key = _key(task.wire_name)
        messages[key] = _message(task)
        queue = task.options.queue
        channel = channels.setdefault(queue, _channel(queue))
        channel["messages"][key] = {"$ref": f"#/components/messages/{key}"}
        operations["enqueue_" + key.replace(".", "_")] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{queue}"},
            "summary": task.doc or f"Enqueue {task.wire_name}.",
            "messages": [{"$ref": f"#/channels/{queue}/messages/{key}"}],
        }
    return {
        "asyncapi": VERSION,
        "info": {
            "title": f"{model.package} tasks",
            "version": version,
            "description": "Tasks enqueued to Redis streams by taskgen clients. " + WIRE_NOTE,
        },
        "defaultContentType": "application/msgpack",
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": dict(sorted(messages.items()))},
    }


def _key(wire_name: str) -> str:
    """A wire name as an AsyncAPI component key (``^[a-zA-Z0-9.\\-_]+$``)."""
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in wire_name)


def _channel(queue: str) -> dict[str, Any]:
    levels = [str(int(level)) for level in sorted(LEVELS)]
    return {
        "address": f"{DEFAULT_PREFIX}:{{{queue}}}:ready:{{level}}",
        "description": (
            f"The ready streams of queue {queue}, one per priority level; each entry's field "
            "is the task id, its value the envelope. The enqueue script (enqueue.lua) adds it."
        ),
        "parameters": {"level": {"enum": levels, "description": "The task's priority level."}},
        "messages": {},
    }


def _message(task: TaskSpec) -> dict[str, Any]:
    options = task.options
    return {
        "name": task.wire_name,
        "title": task.wire_name,
        "summary": task.doc or task.wire_name,
        "contentType": "application/msgpack",
        "payload": {
            "type": "array",
            "description": "The envelope: id, task, fingerprint, args, enqueued_at, attempt, "
            "priority, expires_at, trace, reply.",
            "prefixItems": [
                {"type": "string", "description": "task id (32 hex digits unless chosen)"},
                {"const": task.wire_name},
                {"const": task.fingerprint, "description": "the task's schema fingerprint"},
                {"$ref": f"{file_stem(task.wire_name)}.args.schema.json"},
                {"type": "integer", "description": "enqueued at, epoch milliseconds"},
                {"type": "integer", "minimum": 1, "description": "attempt, 1 when enqueued"},
                {"type": "integer", "default": int(options.priority), "description": "priority"},
                {"type": "integer", "description": "expires at, epoch ms (0: never)"},
                {
                    "anyOf": [
                        {"type": "object", "additionalProperties": {"type": "string"}},
                        {"type": "null"},
                    ],
                    "description": "W3C trace context headers",
                },
                {"type": "string", "description": "reply channel (bin; empty for none)"},
            ],
            "minItems": 10,
        },
        "x-taskgen": {
            "queue": options.queue,
            "result": f"{file_stem(task.wire_name)}.result.schema.json",
            "timeout": options.timeout,
            "result_ttl": options.result_ttl,
            "retry_attempts": options.retry.attempts,
        },
    }
