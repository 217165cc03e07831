"""Handler parameters beyond the contract's, filled in by an injector (e.g. FastAPI's
dependency system, see ``taskgen.fastapi``). The runtime only knows this protocol, so a worker
without such handlers needs no extra package."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TYPE_CHECKING, Any, Protocol

from taskgen.runtime.context import TaskContext

if TYPE_CHECKING:
    from taskgen.runtime.binding import Binding

#: Fills a handler's extra parameters for one run; cleanups go on the exit stack, which is
#: closed once the handler has ended (also when it failed).
Resolver = Callable[[TaskContext, AsyncExitStack], Awaitable[Mapping[str, Any]]]

#: The extra arguments of a handler that has none.
NO_EXTRAS: Mapping[str, Any] = {}


class Injector(Protocol):
    """Provides handlers' extra parameters."""

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        """Entered once when the worker starts, left when it stops."""
        ...

    def problems(self, binding: Binding[Any, Any], extras: list[inspect.Parameter]) -> list[str]:
        """Why some of these extra parameters cannot be provided (empty when all can)."""
        ...

    def resolver(self, binding: Binding[Any, Any], extras: list[inspect.Parameter]) -> Resolver:
        """How to provide the extra parameters of one handler, run after run."""
        ...
