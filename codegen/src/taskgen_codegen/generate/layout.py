"""Line layout for generated code that ``ruff format`` leaves as it is.

Generated files must come out formatted without running a formatter. The rule used here is
one that ruff keeps stable: a bracketed construct goes on one line when it fits, otherwise one
item per line with a trailing comma (the "magic trailing comma" keeps it exploded), and the
same rule applies again to each item.
"""

from __future__ import annotations

import ast
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

    def render(self, indent: int, trailing: int = 0) -> str:
        """The text, starting at column ``indent`` (the first line is not indented) and
        followed by ``trailing`` characters on its last line."""
        flat = self.flat()
        if indent + len(flat) + trailing <= LINE_LENGTH or not self.items:
            return flat
        pad = " " * (indent + 4)
        body = "".join(
            f"{pad}{_item(i, indent + 4) if isinstance(i, str) else i.render(indent + 4, 1)},\n"
            for i in self.items
        )
        return f"{self.head}{self.brackets[0]}\n{body}{' ' * indent}{self.brackets[1]}{self.tail}"


def _item(text: str, indent: int) -> str:
    """One item of an exploded bracket (a comma follows it), broken when it is too long."""
    if indent + len(text) + 1 <= LINE_LENGTH:
        return text
    name, equals, value = text.partition("=")
    if equals and name.isidentifier() and not value.startswith("="):
        return keyword(name, value, indent)
    try:
        return _Expression(text).layout(indent, indent, 1)
    except SyntaxError:  # ``**extras`` and the like: nothing to break
        return text


def call(head: str, items: Sequence[str | Bracketed], tail: str = "", indent: int = 0) -> str:
    """A call or class header, laid out at ``indent``; in ``name = f(...)`` or ``return f(...)``
    whose opening does not fit, the call goes in parentheses on the lines below when it fits
    there, as ruff puts it."""
    start, function = _statement(head)
    if start and indent + len(head) + 1 > LINE_LENGTH:
        inner = Bracketed(function, items, tail).render(indent + 4)
        if _widest(inner, indent + 4) <= LINE_LENGTH:
            return f"{start}(\n{_pad(indent + 4)}{inner}\n{_pad(indent)})"
    return Bracketed(head, items, tail).render(indent)


def _statement(head: str) -> tuple[str, str]:
    """``head`` split after ``return `` or ``name = ``, if it starts with either."""
    if head.startswith("return "):
        return "return ", head[len("return ") :]
    name, equals, value = head.partition(" = ")
    return (f"{name} = ", value) if equals else ("", head)


def expression(text: str, indent: int, column: int) -> str:
    """An expression that starts at ``column`` on a line indented by ``indent``, broken at
    its brackets where it does not fit."""
    if column + len(text) <= LINE_LENGTH:
        return text
    return _Expression(text).layout(indent, column, 0)


def nested_call(head: str, inner: str, items: Sequence[str], indent: int) -> str:
    """``head(inner(items))``, e.g. ``return await self._enqueue(Args(a=a))``."""
    return Bracketed(head, [Bracketed(inner, items)]).render(indent)


def tuple_call(head: str, items: Sequence[str], indent: int) -> str:
    """``head`` followed by a tuple of ``items``, laid out at ``indent`` (a comma follows)."""
    if len(items) == 1:
        return f"{head}({items[0]},)"
    return Bracketed(head, items).render(indent, 1)


def tuple_literal(items: Sequence[str]) -> str:
    """A tuple expression, with the trailing comma a one-item tuple needs."""
    if len(items) == 1:
        return f"({items[0]},)"
    return f"({', '.join(items)})"


def annotated(name: str, annotation: str, value: str | None, indent: int) -> str:
    """``name: annotation = value`` at ``indent``, broken where ruff breaks it."""
    flat = f"{name}: {annotation}" + (f" = {value}" if value is not None else "")
    if indent + len(flat) <= LINE_LENGTH:
        return flat
    prefix = f"{name}: "
    kind = _Expression(annotation)
    if value is None:
        return prefix + kind.annotation(indent, indent + len(prefix), 0)
    head = f"{prefix}{annotation} = "
    split = _Expression(value).assigned(indent, indent + len(head), kind.splittable())
    if split is not None:
        return head + split
    # The annotation breaks, and the value follows its closing bracket.
    rest = _Expression(value)
    tail = len(" = ") + len(rest.opening(rest.root) or value)
    text = prefix + kind.annotation(indent, indent + len(prefix), tail)
    return f"{text} = {rest.layout(indent, _end_column(text, indent) + len(' = '), 0)}"


def assignment(name: str, value: str, indent: int = 0) -> str:
    """``name = value`` at ``indent``, broken where ruff breaks it."""
    head = f"{name} = "
    if indent + len(head) + len(value) <= LINE_LENGTH:
        return head + value
    rest = _Expression(value)
    return head + (rest.assigned(indent, indent + len(head), False) or value)


def parameter(name: str, annotation: str, default: str | None, indent: int) -> str:
    """``name: annotation = default`` as one parameter of an exploded signature.

    ruff breaks the annotation first (a union before each ``|``, at the parameter's indent,
    without parentheses), when it does not fit together with the default up to the default's
    first bracket; then the default at its own bracket. It never wraps a default in
    parentheses."""
    flat = f"{name}: {annotation}" + (f" = {default}" if default is not None else "")
    if indent + len(flat) + 1 <= LINE_LENGTH:
        return flat
    prefix = f"{name}: "
    kind = _Expression(annotation)
    if default is None:
        return prefix + kind.layout(indent, indent + len(prefix), 1)
    value = _Expression(default)
    opening = value.opening(value.root)
    tail = len(" = ") + (len(opening) if opening is not None else len(default) + 1)
    text = prefix + kind.layout(indent, indent + len(prefix), tail)
    return f"{text} = {value.layout(indent, _end_column(text, indent) + len(' = '), 1)}"


def returns(annotation: str, indent: int) -> str:
    """The return annotation after ``) -> `` (the line starts at ``indent``; ``:`` follows).

    ruff splits a subscript at its bracket and puts a union that does not fit in
    parentheses, one operand per line."""
    column = indent + len(") -> ")
    if column + len(annotation) + 1 <= LINE_LENGTH:
        return annotation
    spelled = _Expression(annotation)
    if isinstance(spelled.root, ast.BinOp):
        return spelled.parenthesized(indent)
    return spelled.layout(indent, column, 1)


def bare_def(head: str, annotation: str, indent: int) -> str:
    """``def name(self) -> R:``; ruff puts ``self`` on its own line before it splits ``R``."""
    flat = f"{head}(self) -> {annotation}:"
    if indent + len(flat) <= LINE_LENGTH:
        return flat
    return f"{head}(\n{_pad(indent + 4)}self,\n{_pad(indent)}) -> {returns(annotation, indent)}:"


def import_as(module: str, name: str, alias: str, indent: int) -> str:
    """``from module import name as alias``, in parentheses when it does not fit."""
    flat = f"from {module} import {name} as {alias}"
    if indent + len(flat) <= LINE_LENGTH:
        return flat
    return f"from {module} import (\n{_pad(indent + 4)}{name} as {alias},\n{_pad(indent)})"


def keyword(name: str, value: str, indent: int) -> str:
    """``name=value`` as one item of an exploded call (the comma follows it)."""
    if indent + len(name) + 1 + len(value) + 1 <= LINE_LENGTH:
        return f"{name}={value}"
    return f"{name}=" + _Expression(value).layout(indent, indent + len(name) + 1, 1)


def _pad(indent: int) -> str:
    return " " * indent


class _Expression:
    """One expression of generated code (already spelled flat), broken over lines the way
    ``ruff format`` breaks it: a bracket's content goes on one indented line if it fits,
    else one item per line with a trailing comma; a union breaks before each ``|``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.root = ast.parse(text, mode="eval").body
        # ast offsets count UTF-8 bytes; a one-line text is sliced directly, since
        # ast.get_source_segment splits the whole text again on every call
        self._line = text.encode() if "\n" not in text and "\r" not in text else None

    def flat(self, node: ast.AST) -> str:
        if self._line is not None:
            start, end = getattr(node, "col_offset", 0), getattr(node, "end_col_offset", None)
            return self._line[start:end].decode()
        return ast.get_source_segment(self.text, node) or ""

    def splittable(self) -> bool:
        """Whether ruff can break the expression itself (at a bracket or a ``|``)."""
        root = self.root
        return isinstance(root, ast.BinOp) or (
            isinstance(root, ast.Subscript) and bool(self._items(root))
        )

    def annotation(self, indent: int, column: int, tail: int) -> str:
        """The expression as an annotation: a union, or a name, that does not fit goes in
        parentheses."""
        if column + len(self.text) + tail <= LINE_LENGTH or self.splittable():
            if isinstance(self.root, ast.BinOp) and column + len(self.text) + tail > LINE_LENGTH:
                return self.parenthesized(indent)
            return self.layout(indent, column, tail)
        inner = self.parenthesized(indent)
        return inner if _widest(inner, column) <= LINE_LENGTH else self.text

    def assigned(self, indent: int, column: int, left_splits: bool) -> str | None:
        """The right-hand side of an assignment that does not fit on its line, or None when
        ruff would rather break the left side (``left_splits``: it can).

        ruff tries, in order: break at the value's own first bracket when the text before it
        fits; the value in parentheses when everything then fits (a bracketed value beside a
        breakable left side: when ``= (`` fits); the left side; and last the value's own
        bracket even though its first line is too long."""
        opening = self.opening(self.root)
        if opening is not None and column + len(opening) <= LINE_LENGTH:
            return self.layout(indent, column, 0)
        # ruff breaks the left side before it wraps a negative number, and never wraps ``()``
        late = isinstance(self.root, ast.UnaryOp) and left_splits
        can_wrap = column + 1 <= LINE_LENGTH and not late and not _is_empty(self.root)
        if can_wrap:
            wrapped = self.parenthesized(indent)
            bracketed = opening is not None and left_splits
            if bracketed or _widest(wrapped, column) <= LINE_LENGTH:
                return wrapped
        if left_splits:
            return None
        return self.layout(indent, column, 0) if opening is not None else self.text

    def parenthesized(self, indent: int) -> str:
        """``(`` the expression on its own indented line(s) ``)``."""
        inner = indent + 4
        return f"(\n{_pad(inner)}{self._node(self.root, inner, inner, 0)}\n{_pad(indent)})"

    def layout(self, indent: int, column: int, tail: int) -> str:
        return self._node(self.root, indent, column, tail)

    def opening(self, node: ast.expr) -> str | None:
        """What precedes the first line break when ``node`` splits at its own bracket."""
        if isinstance(node, ast.Call) and (node.args or node.keywords):
            return self.flat(node.func) + "("
        if isinstance(node, ast.Subscript) and self._items(node):
            return self.flat(node.value) + "["
        if isinstance(node, ast.Tuple | ast.Set | ast.List) and node.elts:
            return self.flat(node)[0]
        return None

    def _node(self, node: ast.expr, indent: int, column: int, tail: int) -> str:
        flat = self.flat(node)
        if column + len(flat) + tail <= LINE_LENGTH:
            return flat
        if isinstance(node, ast.Call) and (node.args or node.keywords):
            items: list[ast.expr | ast.keyword] = [*node.args, *node.keywords]
            items.sort(key=lambda i: (i.lineno, i.col_offset))
            return self.flat(node.func) + self._group(items, "()", indent, hug=True)
        if isinstance(node, ast.Subscript) and self._items(node):
            return self.flat(node.value) + self._group(self._items(node), "[]", indent, hug=True)
        if isinstance(node, ast.Tuple | ast.Set | ast.List) and node.elts:
            return self._group(list(node.elts), flat[0] + flat[-1], indent, hug=False)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._chain(node, indent, column, tail)
        return flat

    def _items(self, node: ast.Subscript) -> list[ast.expr | ast.keyword]:
        """The items inside a subscript's brackets; none for ``tuple[()]``."""
        index = node.slice
        if isinstance(index, ast.Tuple) and not self.flat(index).startswith("("):
            return list(index.elts)
        if isinstance(index, ast.Tuple) and not index.elts:
            return []
        return [index]

    def _group(
        self, items: list[ast.expr | ast.keyword], brackets: str, indent: int, *, hug: bool
    ) -> str:
        """A bracket broken open: its items on one line if they fit (calls, subscripts),
        else one per line with a trailing comma (a lone call or subscript item takes none)."""
        inner = indent + 4
        joined = ", ".join(self._item_flat(i) for i in items)
        if hug and inner + len(joined) <= LINE_LENGTH:
            body = _pad(inner) + joined
        elif hug and len(items) == 1:
            body = _pad(inner) + self._item(items[0], inner, 0)
        else:
            body = "\n".join(_pad(inner) + self._item(i, inner, 1) + "," for i in items)
        return f"{brackets[0]}\n{body}\n{_pad(indent)}{brackets[1]}"

    def _item_flat(self, item: ast.expr | ast.keyword) -> str:
        if isinstance(item, ast.keyword):
            return f"{item.arg}={self.flat(item.value)}"
        return self.flat(item)

    def _item(self, item: ast.expr | ast.keyword, indent: int, tail: int) -> str:
        if isinstance(item, ast.keyword):
            prefix = f"{item.arg}="
            return prefix + self._node(item.value, indent, indent + len(prefix), tail)
        return self._node(item, indent, indent, tail)

    def _chain(self, node: ast.BinOp, indent: int, column: int, tail: int) -> str:
        """``a | b | c`` broken before each ``|``, the operands at the line's indent."""
        operands = _operands(node)
        last = len(operands) - 1
        lines = [self._node(operands[0], indent, column, 0)]
        for i, operand in enumerate(operands[1:], 1):
            text = self._node(operand, indent, indent + 2, tail if i == last else 0)
            lines.append(f"{_pad(indent)}| {text}")
        return "\n".join(lines)


def _is_empty(node: ast.expr) -> bool:
    return isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict) and not (
        node.keys if isinstance(node, ast.Dict) else node.elts
    )


def _widest(text: str, column: int) -> int:
    """The end column of the longest line of ``text``, whose first line starts at ``column``."""
    first, _, rest = text.partition("\n")
    return max([column + len(first), *(len(line) for line in rest.splitlines())])


def _end_column(text: str, column: int) -> int:
    """The column after ``text``, whose first line starts at ``column``."""
    _, newline, last = text.rpartition("\n")
    return len(last) if newline else column + len(text)


def _operands(node: ast.expr) -> list[ast.expr]:
    """The operands of a ``|`` chain, left to right."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return [*_operands(node.left), node.right]
    return [node]


def typed_constant(name: str, base: str, args: Sequence[str]) -> str:
    """The first line(s) of ``NAME = base[args](`` at module level; when that is too long,
    ``NAME: base[args] = base(`` with the annotation broken where ruff breaks it."""
    inline = f"{name} = {base}[{', '.join(args)}]("
    if len(inline) <= LINE_LENGTH:
        return inline
    prefix = f"{name}: "
    annotation = _Expression(f"{base}[{', '.join(args)}]")
    text = prefix + annotation.layout(0, len(prefix), len(f" = {base}("))
    return f"{text} = {base}("
