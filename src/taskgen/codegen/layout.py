"""Line layout for generated code that ``ruff format`` leaves as it is.

Generated files must come out formatted without running a formatter. The rule used here is
one that ruff keeps stable: a bracketed construct goes on one line when it fits, otherwise one
item per line with a trailing comma (the "magic trailing comma" keeps it exploded), and the
same rule applies again to each item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LINE_LENGTH = 88


@dataclass(frozen=True)
class Bracketed:
    """``head(item, item)tail`` (or ``[`` … ``]`` with ``brackets="[]"``)."""

    head: str
    items: Sequence[str | Bracketed]
    tail: str = ""
    brackets: str = "()"

    def flat(self) -> str:
        inner = ", ".join(i if isinstance(i, str) else i.flat() for i in self.items)
        return f"{self.head}{self.brackets[0]}{inner}{self.brackets[1]}{self.tail}"

    def render(self, indent: int) -> str:
        """The text, starting at column ``indent`` (the first line is not indented)."""
        flat = self.flat()
        if indent + len(flat) <= LINE_LENGTH or not self.items:
            return flat
        pad = " " * (indent + 4)
        body = "".join(
            f"{pad}{i if isinstance(i, str) else i.render(indent + 4)},\n" for i in self.items
        )
        return f"{self.head}{self.brackets[0]}\n{body}{' ' * indent}{self.brackets[1]}{self.tail}"


def call(head: str, items: Sequence[str | Bracketed], tail: str = "", indent: int = 0) -> str:
    """A call or class header, laid out at ``indent``."""
    return Bracketed(head, items, tail).render(indent)


def nested_call(head: str, inner: str, items: Sequence[str], indent: int) -> str:
    """``head(inner(items))``, e.g. ``return await self._enqueue(Args(a=a))``."""
    return Bracketed(head, [Bracketed(inner, items)]).render(indent)


def tuple_call(head: str, items: Sequence[str], indent: int) -> str:
    """``head`` followed by a tuple of ``items``, laid out at ``indent``."""
    if len(items) == 1:
        return f"{head}({items[0]},)"
    return Bracketed(head, items).render(indent)


def tuple_literal(items: Sequence[str]) -> str:
    """A tuple expression, with the trailing comma a one-item tuple needs."""
    if len(items) == 1:
        return f"({items[0]},)"
    return f"({', '.join(items)})"


def annotated(name: str, annotation: str, value: str | None, indent: int) -> str:
    """``name: annotation = value``; a long annotation goes in parentheses, as ruff does."""
    tail = f" = {value}" if value is not None else ""
    inline = f"{name}: {annotation}{tail}"
    if indent + len(inline) <= LINE_LENGTH:
        return inline
    pad = " " * indent
    return f"{name}: (\n{pad}    {annotation}\n{pad}){tail}"


def typed_constant(name: str, base: str, args: Sequence[str]) -> str:
    """The first line(s) of ``NAME = base[args](`` at module level."""
    inline = f"{name} = {base}[{', '.join(args)}]("
    if len(inline) <= LINE_LENGTH:
        return inline
    return f"{name}: {Bracketed(base, args, brackets='[]').render(len(name) + 2)} = {base}("
