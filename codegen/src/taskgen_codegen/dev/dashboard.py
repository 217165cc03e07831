"""The dashboard step of ``taskgen dev``: serve ``taskgen.dashboard`` when it is installed.

It runs in a child process (``python -m taskgen_codegen.dev.dashboard``) so it imports the
freshly generated client each time the contract changes, and a crash of it stops nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

from taskgen_codegen.dev.children import Launch
from taskgen_codegen.generate import BuildConfig

#: What to install when the dashboard is missing.
INSTALL = "pip install 'taskgen-runtime[dashboard]'"


def available() -> bool:
    """True when ``taskgen.dashboard`` and a web server to run it are installed."""
    needed = ("taskgen.dashboard", "uvicorn")
    return all(importlib.util.find_spec(name) is not None for name in needed)


def launch(redis_url: str, port: int, config: BuildConfig, env: Mapping[str, str]) -> Launch:
    """The child process that serves the dashboard on 127.0.0.1:``port``."""
    command = [sys.executable, "-m", __name__, redis_url, str(port), config.client_package]
    return Launch(command, config.root_path.resolve(), env)


def app(redis_url: str, client_package: str) -> Any:
    """The dashboard's ASGI app over ``redis_url``, showing the client's tasks with their types.

    Writes (requeue, purge, abort) are on: this one listens on 127.0.0.1 for the developer."""
    dashboard = importlib.import_module("taskgen.dashboard")
    # The generated client's tasks module holds every TaskDef (see inspect.task_types).
    return dashboard.dashboard(
        redis_url=redis_url, tasks=f"{client_package}.tasks", allow_writes=True
    )


def main() -> None:
    """Serve the dashboard until stopped."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="taskgen dev dashboard")
    parser.add_argument("redis_url")
    parser.add_argument("port", type=int)
    parser.add_argument("client_package")
    args = parser.parse_args()
    served = app(args.redis_url, args.client_package)
    uvicorn.run(served, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
