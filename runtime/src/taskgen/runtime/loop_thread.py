"""An event loop on a thread of its own, so blocking code can run the async client's calls.

Every blocking call of a ``SyncClient`` runs its async counterpart here: one loop serves any
number of calling threads (``asyncio.run_coroutine_threadsafe`` is safe from all of them), and
all the client's state is touched by the loop's thread alone. The thread starts at the first
call and ends with ``stop()``; it is a daemon, so a client never closed does not keep the
process alive.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from taskgen.errors import TaskgenError

T = TypeVar("T")


class LoopClosed(TaskgenError, RuntimeError):
    """A call came after ``stop()``, or in a process forked from the one the loop runs in."""


class LoopThread:
    """Runs coroutines, submitted from any thread, on one private event loop."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._stopped = False
        #: The process that started the thread: a child forked after it has no such thread.
        self._pid = 0

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and block until it ends; its result or exception.

        If the calling thread is interrupted while it waits (KeyboardInterrupt), the coroutine
        is cancelled too."""
        try:
            loop = self._started()
        except BaseException:
            coroutine.close()
            raise
        if threading.get_ident() == self._ident:
            coroutine.close()
            raise RuntimeError(
                f"{self._name}: a blocking call from inside its own event loop would wait "
                "forever; use the async client there"
            )
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    @property
    def _ident(self) -> int | None:
        return self._thread.ident if self._thread is not None else None

    def _started(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and not self._stopped:
            if self._pid != os.getpid():
                raise LoopClosed(
                    f"{self._name} was used before this process forked, and its event-loop "
                    "thread did not survive the fork: create the client in the child process "
                    "(e.g. in gunicorn's post_fork hook) or do not use it before forking"
                )
            return loop
        with self._lock:
            if self._stopped:
                raise LoopClosed(f"{self._name} is closed")
            if self._loop is None:
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._serve, args=(ready,), name=self._name, daemon=True
                )
                thread.start()
                ready.wait()
            assert self._loop is not None
            return self._loop

    def _serve(self, ready: threading.Event) -> None:
        async def serve() -> None:
            self._stopping = asyncio.Event()
            self._thread, self._pid = threading.current_thread(), os.getpid()
            # Set last: other threads take a loop that is set as ready to use.
            self._loop = asyncio.get_running_loop()
            ready.set()
            await self._stopping.wait()

        # asyncio.run cancels whatever is left and shuts async generators down on the way out.
        asyncio.run(serve())

    def stop(self, *, wait: bool = True) -> None:
        """End the loop (what still runs on it is cancelled) and, with ``wait``, its thread;
        later calls raise ``LoopClosed``."""
        with self._lock:
            self._stopped = True
            loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is None or stopping is None or thread is None or self._pid != os.getpid():
            return
        if threading.get_ident() == thread.ident:
            stopping.set()
            return
        try:
            loop.call_soon_threadsafe(stopping.set)
        except RuntimeError:
            return  # the loop has already closed
        if wait:
            thread.join()
