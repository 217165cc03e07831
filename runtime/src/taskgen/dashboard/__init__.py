"""A web dashboard over taskgen's queues: an ASGI app to run or to mount in your own app.

Read-only unless built with ``allow_writes=True``: requeueing, purging and aborting are
actions a person takes, so a dashboard that nobody put behind authentication offers none.
Needs the ``[dashboard]`` extra (starlette, jinja2; uvicorn for ``taskgen dashboard``).
"""

from __future__ import annotations

from taskgen.dashboard.app import dashboard

__all__ = ["dashboard"]
