"""The worker's concurrency limit, as a count of free execution slots."""

from __future__ import annotations

import asyncio


class Slots:
    """Free execution slots; a reader waits for one without polling."""

    __slots__ = ("_first", "_freed", "free", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"concurrency must be >= 1, not {size}")
        self.size = size
        self.free = size
        self._freed = asyncio.Event()
        #: Takers waiting in ``take_first``: ordinary takers let them go first.
        self._first = 0

    async def take(self, most: int) -> int:
        """Take between 1 and ``most`` slots, waiting until at least one is free."""
        while self.free <= 0 or self._first:
            self._freed.clear()
            await self._freed.wait()
        taken = min(most, self.free)
        self.free -= taken
        return taken

    async def take_first(self) -> None:
        """Take one slot ahead of every ``take`` waiting (redelivered work goes first)."""
        self._first += 1
        try:
            while self.free <= 0:
                self._freed.clear()
                await self._freed.wait()
            self.free -= 1
        finally:
            self._first -= 1
            self._freed.set()  # ordinary takers look again: a slot may still be free for them

    def take_now(self, most: int) -> int:
        """Take up to ``most`` slots without waiting; may take none."""
        taken = max(0, min(most, self.free))
        self.free -= taken
        return taken

    def give(self, count: int = 1) -> None:
        """Return slots."""
        self.free += count
        self._freed.set()
