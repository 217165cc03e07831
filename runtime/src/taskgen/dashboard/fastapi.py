"""Mounting the dashboard in a FastAPI app behind the app's own dependencies (its auth).

A mounted ASGI app skips the host's dependencies, so ``behind`` wraps the dashboard in a
small FastAPI app whose one catch-all route carries them: each request passes them first
(a dependency that raises ``HTTPException(401)`` answers 401), then reaches the dashboard::

    app.mount("/tasks", behind(dashboard(REDIS_URL, allow_writes=True), Depends(admin)))
"""

from __future__ import annotations

from fastapi import FastAPI, Request, params
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["behind"]

METHODS = ["GET", "HEAD", "POST"]


class _Forward(Response):
    """Hands the request, unread, to the dashboard, which writes the whole answer."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__()
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def behind(board: ASGIApp, *dependencies: params.Depends) -> FastAPI:
    """``board`` served only to requests that pass ``dependencies``; mount the result."""
    gate = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    async def forward(request: Request) -> Response:
        return _Forward(board)

    for path in ("/", "/{path:path}"):
        gate.add_api_route(
            path, forward, methods=METHODS, dependencies=list(dependencies), include_in_schema=False
        )
    return gate
