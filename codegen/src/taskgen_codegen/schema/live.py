"""The contract's own Python types, as msgspec sees them: what the wire is made of.

The model (``taskgen_codegen.contract``) says how to spell a type; only the real classes say
exactly what msgspec writes: the bytes of a default, the JSON Schema of a Struct. A loaded
contract's modules stay imported (``load_contracts`` leaves them in ``sys.modules``), so each
task's function is found again by its module and name, and its arguments become the same
Struct the generated Python client sends: every parameter by name, in declared order.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from taskgen.runtime import bigint
from taskgen_codegen.contract.model import ContractModel, TaskSpec
from taskgen_codegen.generate.names import pascal

#: Where ``@task(progress=...)`` keeps a declared progress type on the function (the runtime's
#: ``vocabulary.PROGRESS_ATTR``), read by name so a runtime without progress types still works.
PROGRESS_ATTR = "__taskgen_progress__"


@dataclass(frozen=True)
class LiveTask:
    """One task's arguments Struct and result type, built from the contract's real classes."""

    spec: TaskSpec
    args: type[msgspec.Struct]
    result: Any
    #: The declared type of its progress reports; None: none declared.
    progress: Any = None


def live_tasks(model: ContractModel, folder: Path) -> dict[str, LiveTask]:
    """Every task of ``model`` by wire name, from the contract modules under ``folder``."""
    return {
        spec.wire_name: _live(spec, _module(model.package, spec.module, folder))
        for spec in model.tasks
    }


def _module(package: str, label: str, folder: Path) -> Any:
    name = package if label == package else f"{package}.{label}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    root = str(folder.resolve().parent)
    sys.path.insert(0, root)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(root)


def _live(spec: TaskSpec, module: Any) -> LiveTask:
    function = getattr(module, spec.name)
    hints = typing.get_type_hints(function, include_extras=True)
    fields: list[Any] = []
    for param in inspect.signature(function).parameters.values():
        if param.default is inspect.Parameter.empty:
            fields.append((param.name, hints[param.name]))
        else:
            fields.append((param.name, hints[param.name], param.default))
    args = msgspec.defstruct(pascal(spec.wire_name, "args"), fields, kw_only=True, frozen=True)
    return LiveTask(spec, args, hints["return"], getattr(function, PROGRESS_ATTR, None))


def default_bytes(value: Any) -> bytes:
    """A default value as the msgpack bytes the Python client sends for it."""
    return bigint.encode(value)


def live_classes(tasks: dict[str, LiveTask]) -> dict[str, Any]:
    """Every named class the tasks' arguments and results reach, by name (as the model has)."""
    found: dict[str, Any] = {}
    for task in tasks.values():
        for hint in (task.args, task.result, task.progress):
            if hint is not None:
                _reach(hint, found)
    return found


def _reach(tp: Any, found: dict[str, Any]) -> None:
    if isinstance(tp, typing.NewType):
        if tp.__name__ not in found:
            found[tp.__name__] = tp
            _reach(tp.__supertype__, found)
        return
    if type(tp).__name__ == "TypeAliasType":
        _reach(tp.__value__, found)
        return
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        _reach(tp.__origin__, found)
        return
    if origin is not None:
        for arg in typing.get_args(tp):
            if arg is not Ellipsis:
                _reach(arg, found)
        return
    if not isinstance(tp, type) or tp.__module__ in _STANDARD or tp.__name__ in found:
        return
    found[tp.__name__] = tp
    if not _is_record(tp):
        return
    for hint in typing.get_type_hints(tp, include_extras=True).values():
        if typing.get_origin(hint) is typing.ClassVar:
            continue
        _reach(_required_inner(hint), found)


def _is_record(cls: type) -> bool:
    """A Struct, dataclass, TypedDict or NamedTuple: a class with typed fields."""
    named_tuple = issubclass(cls, tuple) and hasattr(cls, "_fields")
    struct = issubclass(cls, msgspec.Struct)
    return struct or dataclasses.is_dataclass(cls) or typing.is_typeddict(cls) or named_tuple


def _required_inner(hint: Any) -> Any:
    """``Required[T]`` and ``NotRequired[T]`` of a TypedDict, unwrapped."""
    if typing.get_origin(hint) in (typing.Required, typing.NotRequired):
        return typing.get_args(hint)[0]
    return hint


_STANDARD = frozenset({"builtins", "datetime", "uuid", "decimal", "msgspec", "types", "typing"})
