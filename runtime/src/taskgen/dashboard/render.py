"""How values read on a page: ages, times, decoded payloads, the throughput sparkline."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskgen.dashboard.board import QueueRow, TaskView

#: What a page shows for a value that is not there.
NOTHING = "\N{EN DASH}"
#: The sparkline's drawing box, in SVG units (the page scales it).
WIDTH, HEIGHT = 120, 24


def age(seconds: float | None) -> str:
    """``None`` as a dash, else a short human age: 4s, 3m 20s, 2h 5m, 3d 4h."""
    if seconds is None:
        return NOTHING
    whole = int(seconds)
    for unit, size, smaller, small_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "m", 60),
        ("m", 60, "s", 1),
    ):
        if whole >= size:
            rest = (whole % size) // small_size
            return f"{whole // size}{unit} {rest}{smaller}" if rest else f"{whole // size}{unit}"
    return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"


def when(epoch_ms: int | float | None) -> str:
    """An epoch-milliseconds time as UTC, or a dash when unset."""
    if not epoch_ms:
        return NOTHING
    moment = datetime.datetime.fromtimestamp(epoch_ms / 1000, datetime.UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}Z"


def pretty(value: Any) -> str:
    """A decoded payload as indented JSON (the template escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=repr)


def sparkline(values: Sequence[float]) -> str:
    """The points of an SVG polyline drawing ``values`` left to right, scaled to the box."""
    if not values:
        return ""
    if len(values) == 1:
        values = [values[0], values[0]]  # one sample: a level line, not an invisible point
    top = max(max(values), 1)
    step = WIDTH / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{HEIGHT - 1 - (v / top) * (HEIGHT - 2):.1f}" for i, v in enumerate(values)
    )


def progress(view: TaskView) -> str:
    """A task's latest progress report: its typed value as JSON, or the number and message."""
    if view.progress is not None:
        return json.dumps(view.progress, ensure_ascii=False)
    value = view.info.progress
    if value is None:
        return NOTHING
    return f"{value.value:g} — {value.message}" if value.message else f"{value.value:g}"


def figures(row: QueueRow) -> dict[str, str]:
    """A queue's figures as the overview's cells show them, keyed by the cell's data-field."""
    s = row.stats
    return {
        "ready": str(s.ready_total),
        "levels": " · ".join(f"{level} {n}" for level, n in s.ready.items() if n) or NOTHING,
        "delayed": str(s.scheduled),
        "running": str(s.running),
        "retrying": str(s.retrying),
        "dead": str(s.dead),
        "oldest": age(s.oldest_wait),
        "completed": f"{s.completed} done, {s.failed} failed",
    }


def spark(row: QueueRow) -> str:
    """A queue's throughput sparkline (completions in the last minute, over the samples)."""
    return sparkline(row.history)


def live(rows: Sequence[QueueRow]) -> list[dict[str, Any]]:
    """What the overview's script polls: each queue's formatted figures and sparkline."""
    return [{"name": row.name, "figures": figures(row), "spark": spark(row)} for row in rows]


FILTERS: dict[str, Callable[..., Any]] = {
    "age": age,
    "when": when,
    "pretty": pretty,
    "progress": progress,
    "figures": figures,
    "spark": spark,
}
