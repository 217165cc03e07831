"""Where each value of a JSON document starts, by its path: how a lock file's entries, and a
bad node in a hand-edited one, are found at their line."""

from __future__ import annotations

import json
import re
from bisect import bisect_right

#: The keys and indexes that lead to a value: ``("tasks", "billing.charge", "params", 0)``.
JsonPath = tuple[str | int, ...]

_SPACE = re.compile(r"[ \t\n\r]*")
_NEWLINE = re.compile(r"\n")
_SCALARS = json.JSONDecoder()


def value_lines(text: str, depth: int | None = None) -> dict[JsonPath, int]:
    """The line (from 1) on which each value of ``text``, a valid JSON document, starts; with
    ``depth``, only of the values whose path is at most that long."""
    return _Walk(text, depth).lines


def line_of(lines: dict[JsonPath, int], path: JsonPath) -> int:
    """The line of the value at ``path``, else of the nearest value that encloses it."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def pointer(path: JsonPath) -> str:
    """A path as a reader writes it: ``.tasks["billing.charge"].params[0]``."""
    parts = (
        f"[{step}]"
        if isinstance(step, int)
        else f".{step}"
        if step.isidentifier()
        else f"[{json.dumps(step)}]"
        for step in path
    )
    return "".join(parts) or "the top level"


class _Walk:
    """One pass over the document's tokens; scalars are decoded by the standard library."""

    def __init__(self, text: str, depth: int | None) -> None:
        self.text = text
        self.depth = depth
        self.starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
        self.lines: dict[JsonPath, int] = {}
        self.value(0, ())

    def skip(self, at: int) -> int:
        match = _SPACE.match(self.text, at)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def value(self, at: int, path: JsonPath) -> int:
        """Record where the value at ``at`` starts; return the offset after it."""
        at = self.skip(at)
        self.lines[path] = bisect_right(self.starts, at)
        opening = self.text[at]
        if opening not in "{[" or (self.depth is not None and len(path) >= self.depth):
            return int(_SCALARS.raw_decode(self.text, at)[1])
        closing = "}" if opening == "{" else "]"
        at = self.skip(at + 1)
        index = 0
        while self.text[at] != closing:
            if opening == "{":
                key, at = _SCALARS.raw_decode(self.text, at)
                at = self.skip(at) + 1  # past the colon
                at = self.skip(self.value(at, (*path, key)))
            else:
                at = self.skip(self.value(at, (*path, index)))
                index += 1
            if self.text[at] == ",":
                at = self.skip(at + 1)
        return at + 1
