"""Showing task payloads to people: msgpack decoded with the contract's types when known,
else as plain JSON with a note; and finding those types in a module or a worker target."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import msgspec

from taskgen.runtime import bigint
from taskgen.runtime.taskdef import TaskDef

__all__ = ["UNTYPED_NOTE", "decode_for_display", "progress_type", "task_types"]

#: What ``decode_for_display`` says when it has no type to decode with.
UNTYPED_NOTE = "no contract type known (pass --tasks MODULE): the raw msgpack, shown as JSON"


def decode_for_display(raw: bytes, type_or_none: Any) -> Any:
    """A JSON-able value: ``raw`` decoded with its contract type when known (a TaskDef's
    ``args`` Struct or ``result`` type); else ``{"raw": <msgpack as JSON>, "note": ...}``."""
    if type_or_none is None:
        return {"raw": _plain(raw), "note": UNTYPED_NOTE}
    try:
        value: Any = bigint.Decoder(type_or_none).decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        note = f"does not decode as {_spelling(type_or_none)} ({exc}): the raw msgpack as JSON"
        return {"raw": _plain(raw), "note": note}
    return msgspec.to_builtins(value)


def progress_type(task: TaskDef[Any, Any] | None) -> Any:
    """The type a task's typed progress reports decode with; None when unknown."""
    if task is None or task.progress is None:
        return None
    return task.progress.type


def task_types(module_or_target: str) -> dict[str, TaskDef[Any, Any]]:
    """The TaskDefs, by wire name, of a module (a generated client's ``pkg.tasks``) or of a
    ``module:attribute`` target: a Worker, or bindings, whose tasks carry their TaskDefs."""
    module_name, _, attribute = module_or_target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"cannot import {module_name!r} ({exc}): give an importable module holding TaskDefs "
            f"(e.g. your generated client's 'pkg.tasks') or a 'module:worker' target"
        ) from None
    if not attribute:
        return _taskdefs(vars(module).values())
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None
    bindings = getattr(target, "bindings", target)
    if isinstance(bindings, dict):
        bindings = bindings.values()
    try:
        items = list(bindings)
    except TypeError:
        raise ValueError(
            f"{module_or_target!r} is neither a Worker nor bindings: give 'module:worker'"
        ) from None
    return _taskdefs(getattr(item, "task", item) for item in items)


def _taskdefs(values: Iterable[Any]) -> dict[str, TaskDef[Any, Any]]:
    found: dict[str, TaskDef[Any, Any]] = {}
    for value in values:
        if isinstance(value, TaskDef):
            found.setdefault(value.name, value)  # the first of one name, as the module defines
    return found


def _plain(raw: bytes) -> Any:
    """Any msgpack as JSON-able builtins (bytes as base64, extension values described)."""
    try:
        value = msgspec.msgpack.decode(raw, ext_hook=_describe_ext)
    except msgspec.DecodeError as exc:
        return f"<not msgpack: {exc}>"
    return msgspec.to_builtins(value)


def _describe_ext(code: int, data: memoryview) -> Any:
    if code == bigint.BIG_INT:
        return bigint.from_ext(data)
    return f"<msgpack extension {code}: {bytes(data).hex()}>"


def _spelling(tp: Any) -> str:
    return getattr(tp, "__qualname__", None) or repr(tp)
