"""A real browser for the dashboard's tests: the OS's chromium, driven by Playwright, and the
dashboard served by uvicorn on a free port in a thread of the test process."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from starlette.types import ASGIApp

#: Debian's chromium; never a browser that Playwright downloads.
CHROMIUM = Path(os.environ.get("TASKGEN_CHROMIUM", "/usr/bin/chromium"))


def chromium_or_skip() -> Path:
    """The browser's path; without one, skip here but fail in CI (``CI=true``)."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = (
        f"no chromium at {CHROMIUM}: the dashboard's browser tests need it "
        "(apt-get install chromium; .ci/run installs it)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def served(app: ASGIApp) -> Iterator[str]:
    """``app`` served by uvicorn on a free local port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start the dashboard within 10 s")
            time.sleep(0.01)  # polls a flag with a deadline: uvicorn offers no event to wait on
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
