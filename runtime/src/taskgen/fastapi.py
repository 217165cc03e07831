"""FastAPI on both sides: the generated client in routes, FastAPI dependencies in handlers.

Backend::

    provider = ClientProvider(lambda: ShopTasks.from_url(REDIS_URL))
    app = FastAPI(lifespan=provider.lifespan)         # or provider.around(your_lifespan)
    Tasks = Annotated[ShopTasks, Depends(provider)]

Worker::

    worker = Worker(bindings(), injector=FastAPIDependencies(app))

Handlers may then declare, beside the task's own parameters, any dependency the backend's
routes use — plain, async, cached, nested, yield dependencies, ones that take ``Request`` or
``HTTPConnection`` — resolved by FastAPI's own solver against the real app, whose lifespan the
worker runs once, so ``request.app.state`` holds what it holds in the API.
"""

# No `from __future__ import annotations`: FastAPI reads ClientProvider.__call__'s signature,
# and an instance has no module globals to resolve string annotations with.
import contextlib
import inspect
import typing
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, params
from fastapi.dependencies.utils import get_dependant, solve_dependencies
from starlette.requests import HTTPConnection, Request

from taskgen.runtime.binding import Binding
from taskgen.runtime.caller import SyncTaskClient, TaskClient
from taskgen.runtime.context import TaskContext
from taskgen.runtime.errors import TaskgenError
from taskgen.runtime.injection import Resolver

__all__ = ["ClientProvider", "DependencyError", "FastAPIDependencies"]

T = TypeVar("T", bound=TaskClient | SyncTaskClient)
AppLifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


class ClientProvider(Generic[T]):
    """Opens the generated client when the app starts, closes it at shutdown, and hands it to
    routes as a dependency. Each app (factories included) gets its own client."""

    def __init__(self, open_client: Callable[[], T]) -> None:
        self._open = open_client
        self._key = f"taskgen_client_{id(self)}"

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """A FastAPI lifespan that owns the client: ``FastAPI(lifespan=provider.lifespan)``."""
        client = self._open()
        setattr(app.state, self._key, client)
        try:
            yield
        finally:
            delattr(app.state, self._key)
            closed = client.close()
            if inspect.isawaitable(closed):
                await closed

    def around(self, lifespan: AppLifespan) -> AppLifespan:
        """An existing lifespan, with the client open around it (and its state passed on)."""

        @contextlib.asynccontextmanager
        async def combined(app: FastAPI) -> AsyncIterator[Any]:
            async with self.lifespan(app), lifespan(app) as state:
                yield state

        return combined

    def __call__(self, request: HTTPConnection) -> T:
        """The dependency: ``tasks: Annotated[ShopTasks, Depends(provider)]``."""
        client: T | None = getattr(request.app.state, self._key, None)
        if client is None:
            raise RuntimeError(
                "the taskgen client is not open: give the app "
                "FastAPI(lifespan=provider.lifespan) or lifespan=provider.around(yours)"
            )
        return client


class DependencyError(TaskgenError):
    """A handler's FastAPI dependencies could not be resolved for a task."""


class FastAPIDependencies:
    """Resolves handlers' extra parameters with FastAPI's dependency system, against ``app``."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        async with self.app.router.lifespan_context(self.app) as state:
            self._state = dict(state or {})
            yield

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        """The app's own lifespan, run once for the whole worker."""
        return self._lifespan()

    def problems(self, binding: Binding[Any, Any], extras: list[inspect.Parameter]) -> list[str]:
        """Extra parameters that are neither dependencies nor the request itself."""
        hints = _hints(binding.handler)
        return [
            f"{binding.task.name}: handler parameter {p.name!r} is not in the contract and "
            "is not a FastAPI dependency (Depends(...), Request or HTTPConnection)"
            for p in extras
            if not _injectable(p, hints.get(p.name, p.annotation))
        ]

    def resolver(self, binding: Binding[Any, Any], extras: list[inspect.Parameter]) -> Resolver:
        """Resolve the extras with FastAPI's solver, one fresh request scope per run."""
        hints = _hints(binding.handler)
        # Keyword-only, so the signature is valid whatever order defaults come in.
        signature = inspect.Signature(
            [
                p.replace(kind=p.KEYWORD_ONLY, annotation=hints.get(p.name, p.annotation))
                for p in extras
            ]
        )

        def endpoint(**values: Any) -> None:
            """Never called: its signature is what FastAPI reads."""

        endpoint.__dict__["__signature__"] = signature  # what inspect.signature() reads
        path = f"/_taskgen/{binding.task.name}"
        dependant = get_dependant(path=path, call=endpoint)

        async def resolve(context: TaskContext, cleanups: AsyncExitStack) -> Mapping[str, Any]:
            request = Request(self._scope(path, context, cleanups))
            solved = await solve_dependencies(
                request=request,
                dependant=dependant,
                dependency_overrides_provider=self.app,
                async_exit_stack=cleanups,
                embed_body_fields=False,
            )
            if solved.errors:
                raise DependencyError(
                    f"task {context.task}: dependencies could not be resolved: {solved.errors}"
                )
            return solved.values

        return resolve

    def _scope(self, path: str, context: TaskContext, cleanups: AsyncExitStack) -> dict[str, Any]:
        """A request scope bound to the real app, saying which task it serves."""
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "server": ("taskgen-worker", 80),
            "client": None,
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"taskgen-worker"),
                (b"x-taskgen-task", context.task.encode()),
                (b"x-taskgen-task-id", context.task_id.encode()),
            ],
            "app": self.app,
            "router": self.app.router,
            "state": dict(self._state),
            # FastAPI closes yield dependencies on these stacks; both end with the task.
            "fastapi_inner_astack": cleanups,
            "fastapi_function_astack": cleanups,
        }


def _hints(handler: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(handler, include_extras=True)
    except Exception:
        return {}


def _injectable(param: inspect.Parameter, annotation: Any) -> bool:
    if isinstance(param.default, params.Depends):
        return True
    if any(isinstance(m, params.Depends) for m in getattr(annotation, "__metadata__", ())):
        return True
    return isinstance(annotation, type) and issubclass(annotation, HTTPConnection)
