"""Python regular expressions as JavaScript ones that match the same strings.

msgspec checks ``Meta(pattern=...)`` with Python's ``re.search``; the TypeScript client checks
it before sending with a JavaScript ``RegExp`` (``u`` flag). The two dialects differ where it
matters for validation: Python's ``$`` also matches before a final newline, ``\\d`` and ``\\w``
match Unicode digits and letters in a str pattern, ``\\A``/``\\Z`` anchor the whole string, and
named groups are spelled ``(?P<name>...)``. This translation closes those gaps; the regex
agreement test runs both engines over generated strings.
"""

from __future__ import annotations

#: Outside a character class.
_OUTSIDE = {
    "d": r"\p{Nd}",
    "D": r"\P{Nd}",
    "w": r"[\p{L}\p{N}_]",
    "W": r"[^\p{L}\p{N}_]",
    "A": "^",
    "Z": "$",
}

#: Inside a character class.
_INSIDE = {"d": r"\p{Nd}", "D": r"\P{Nd}", "w": r"\p{L}\p{N}_"}

#: Python's ``$`` (without MULTILINE): the end, or just before a newline that ends the string.
_END = r"(?=\n?$)"


def js_pattern(pattern: str) -> str:
    """The JavaScript source (for ``new RegExp(source, "u")``) of a Python pattern."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(escaped, "\\" + escaped))
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
            # a ']' right after '[' or '[^' is a literal in both dialects
            for lead in ("^", "]"):
                if pattern.startswith(lead, i + 1):
                    out.append(lead)
                    i += 1
        elif char == "$":
            out.append(_END)
        elif pattern.startswith("(?P<", i):
            out.append("(?<")
            i += 3
        elif pattern.startswith("(?P=", i):
            end = pattern.index(")", i)
            out.append(rf"\k<{pattern[i + 4 : end]}>")
            i = end
        else:
            out.append(char)
        i += 1
    return "".join(out)
