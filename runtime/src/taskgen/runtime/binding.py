"""A task bound to the handler that runs it, and the check that each handler fits its task."""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, Generic, TypeVar

import msgspec

from taskgen.runtime.context import TaskContext, context_type
from taskgen.runtime.errors import HandlerMismatch
from taskgen.runtime.injection import Injector, Resolver
from taskgen.runtime.packing import number, pack
from taskgen.runtime.taskdef import TaskDef
from taskgen.vocabulary import Retry

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")


#: Calls a handler with its context, the decoded arguments, and any injected extras. The
#: context is the class the task's contract asks for (``Context``, or ``ProgressContext[P]``
#: for a declared progress type), which ``Binding.context_type`` names; so an adapter takes
#: either, and the generated one names the right one.
Adapter = Callable[[Any, A, Mapping[str, Any]], R | Awaitable[R]]


class Binding(Generic[A, R]):
    """One task and its handler; ``call`` unpacks the decoded arguments into the handler."""

    __slots__ = (
        "call",
        "context_type",
        "handler",
        "is_async",
        "packed_ttl",
        "plain_result",
        "resolver",
        "result_spelling",
        "retry",
        "task",
        "timeout",
    )

    def __init__(
        self,
        task: TaskDef[A, R],
        handler: Callable[..., Any],
        call: Adapter[A, R],
        *,
        retry: Retry | None = None,
        timeout: float | None = None,
    ) -> None:
        self.task = task
        self.handler = handler
        self.call = call
        #: The class of the context its handler gets.
        self.context_type: type[TaskContext] = context_type(task.progress)
        self.is_async = inspect.iscoroutinefunction(handler)
        #: The worker's own policy, overriding the contract's.
        self.retry = retry or task.retry
        self.timeout = timeout if timeout is not None else task.timeout
        #: Provides the handler's parameters beyond the contract's, if it has any.
        self.resolver: Resolver | None = None
        #: The result TTL as completion records carry it (see ``complete.lua``).
        self.packed_ttl = pack([number(round(task.result_ttl * 1000))])
        #: A value of exactly this type fits the result type without decoding it back.
        self.plain_result: type = _plain(task.result)
        #: The result type as the contract spells it, for errors.
        self.result_spelling = _spell(task.result)


#: Result types that a value of exactly that type always fits (bool is not an int here).
_PLAIN: dict[Any, type] = {
    int: int,
    str: str,
    float: float,
    bool: bool,
    bytes: bytes,
    None: type(None),
}


class _CheckEveryValue:
    """No value has this type, so every result is decoded back and checked."""


def _plain(result: Any) -> type:
    try:
        return _PLAIN.get(result, _CheckEveryValue)
    except TypeError:  # an unhashable annotation
        return _CheckEveryValue


class MissingHandler:
    """Stands in for a handler that could not be found, so every problem is reported at once."""

    def __init__(self, problem: str) -> None:
        self.problem = problem

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(self.problem)


def import_handlers(module: str) -> ModuleType:
    """Import a handler module; one that fails to import becomes an empty stand-in."""
    try:
        return importlib.import_module(module)
    except Exception as exc:
        missing = ModuleType(module)
        missing.__dict__["__taskgen_import_error__"] = f"{type(exc).__name__}: {exc}"
        return missing


def handler(module: ModuleType, name: str) -> Callable[..., Any]:
    """The function ``name`` of a handler module, or a stand-in saying why it is missing."""
    found: Callable[..., Any] | None = getattr(module, name, None)
    if callable(found):
        return found
    error = module.__dict__.get("__taskgen_import_error__")
    if error:
        return MissingHandler(f"handler module {module.__name__} cannot be imported: {error}")
    return MissingHandler(
        f"{module.__name__} has no function {name!r}; `taskgen build` created it there, "
        "restore it (or delete the file and build again to get a fresh stub)"
    )


def handler_problems(binding: Binding[Any, Any], injector: Injector | None = None) -> list[str]:
    """Every way the handler's signature disagrees with its task's parameters."""
    task = binding.task
    handler = binding.handler
    if isinstance(handler, MissingHandler):
        return [f"{task.name}: {handler.problem}"]
    where = _where(handler)
    params = _parameters(handler)
    if params is None:
        return []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or params[0].kind not in positional:
        return [f"{task.name}: handler {where} must take the Context as its first parameter"]
    own = {p.name: p for p in params[1:]}
    fields = {f.name: f.type for f in msgspec.structs.fields(task.args)}
    try:
        hints = typing.get_type_hints(handler, include_extras=True)
    except Exception:
        hints = {}
    problems = []
    for name, kind in task.params:
        param = own.pop(name, None)
        if param is None:
            problems.append(f"{task.name}: handler {where} lacks parameter {name!r}")
            continue
        if kind == "keyword_only" and param.kind is param.POSITIONAL_ONLY:
            problems.append(f"{task.name}: handler {where} takes {name!r} positionally only")
        elif kind == "positional_only" and param.kind is param.KEYWORD_ONLY:
            problems.append(f"{task.name}: handler {where} takes {name!r} by keyword only")
        declared = hints.get(name)
        if declared is not None and name in fields and declared != fields[name]:
            problems.append(
                f"{task.name}: handler {where} annotates {name!r} as {_spell(declared)}, "
                f"the contract says {_spell(fields[name])}"
            )
    extras = [p for p in own.values() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    if injector is not None:
        return problems + injector.problems(binding, extras)
    for param in extras:
        if param.default is param.empty:
            hint = (
                " (a FastAPI dependency: give the Worker injector=FastAPIDependencies(app))"
                if _looks_injected(param, hints.get(param.name, param.annotation))
                else ""
            )
            problems.append(
                f"{task.name}: handler {where} has parameter {param.name!r}, "
                f"which the contract lacks{hint}"
            )
    return problems


def extra_parameters(binding: Binding[Any, Any]) -> list[inspect.Parameter]:
    """The handler's parameters that its task does not declare (after the Context)."""
    params = _parameters(binding.handler) or []
    declared = {name for name, _ in binding.task.params}
    return [
        p
        for p in params[1:]
        if p.name not in declared and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]


def _parameters(handler: Callable[..., Any]) -> list[inspect.Parameter] | None:
    try:
        return list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        return None


def _looks_injected(param: inspect.Parameter, annotation: Any) -> bool:
    """A FastAPI ``Depends`` (default or ``Annotated`` metadata) or a Starlette request type,
    spotted by module, so the runtime never imports FastAPI itself."""
    marks = [param.default, *getattr(annotation, "__metadata__", ())]
    if any(type(mark).__module__.startswith("fastapi") for mark in marks):
        return True
    return isinstance(annotation, type) and annotation.__module__.startswith("starlette")


def check_handlers(
    bindings: Iterable[Binding[Any, Any]], injector: Injector | None = None
) -> list[str]:
    """Every handler problem of a worker, and every task bound twice."""
    problems: list[str] = []
    seen: set[str] = set()
    for binding in bindings:
        if binding.task.name in seen:
            problems.append(f"{binding.task.name}: bound to more than one handler")
        seen.add(binding.task.name)
        problems.extend(handler_problems(binding, injector))
    return problems


def _where(handler: Callable[..., Any]) -> str:
    name = f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', '?')}"
    try:
        file = inspect.getsourcefile(handler)
        line = inspect.getsourcelines(handler)[1]
    except (OSError, TypeError):
        return name
    return f"{name} ({file}:{line})"


def _spell(tp: Any) -> str:
    if tp is None:
        return "None"
    return tp.__name__ if isinstance(tp, type) else repr(tp).replace("typing.", "")


def prepare_bindings(
    bindings: Iterable[Binding[Any, Any]], injector: Injector | None = None
) -> dict[str, Binding[Any, Any]]:
    """Bindings by wire name, checked against their tasks, with the injector's resolvers set.

    Raises ``HandlerMismatch`` listing every problem."""
    bound = list(bindings)
    problems = check_handlers(bound, injector)
    if problems:
        raise HandlerMismatch(problems)
    if injector is not None:
        for binding in bound:
            extras = extra_parameters(binding)
            if extras:
                binding.resolver = injector.resolver(binding, extras)
    return {b.task.name: b for b in bound}
