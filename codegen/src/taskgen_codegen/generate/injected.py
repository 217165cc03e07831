"""Which parameters of a handler an injector provides, read from the handler's source.

The bindings pass each injected parameter by name (``session=extras["session"]``) instead of
spreading ``**extras``: with a spread, mypy assumes any missing parameter may come from it, so a
handler that still requires a parameter the contract dropped would pass the type check and fail
only at start-up. A parameter beyond the contract's counts as injected when its source says so:
a call in its annotation or default (``Annotated[Session, Depends(db)]``, ``= Depends(db)``), or
an annotation that is neither a builtin nor a contract type (an alias such as ``Tasks``). Any
other extra parameter is left out of the call, so mypy reports it.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from pathlib import Path

from taskgen_codegen.syntax import parse_module

#: Names an annotation of a contract parameter is spelled with, besides the contract's types.
_PLAIN_NAMES = frozenset(dir(builtins)) | {
    "typing",
    "Any",
    "Optional",
    "Union",
    "Literal",
    "Annotated",
    "NewType",
    "collections",
    "abc",
    "Mapping",
    "Sequence",
    "datetime",
    "date",
    "time",
    "timedelta",
    "decimal",
    "Decimal",
    "uuid",
    "UUID",
    "msgspec",
    "Meta",
}


@dataclass(frozen=True)
class Injected:
    """How the bindings call one handler beyond the contract's parameters."""

    #: Injected parameters without a default, passed by name from ``extras``.
    required: tuple[str, ...] = ()
    #: Whether ``**extras`` must be spread anyway: injected parameters with a default (which
    #: may be absent from ``extras``) or a handler taking ``**kwargs``.
    spread: bool = False

    def arguments(self) -> list[str]:
        """The call's arguments after the contract's."""
        named = [f'{name}=extras["{name}"]' for name in self.required]
        return named + (["**extras"] if self.spread else [])


def injected(path: Path, function: str, declared: set[str], types: set[str]) -> Injected:
    """What the handler ``function`` in ``path`` takes beyond the ``declared`` parameters."""
    try:
        tree = parse_module(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return Injected()  # not written yet, or broken: start-up reports it
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            return _read(node.args, declared, types)
    return Injected()


def _read(args: ast.arguments, declared: set[str], types: set[str]) -> Injected:
    positional = [*args.posonlyargs, *args.args]
    with_defaults = [a.arg for a in positional][len(positional) - len(args.defaults) :]
    defaults: dict[str, ast.expr] = dict(zip(with_defaults, args.defaults, strict=True))
    defaults |= {
        a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
    }
    required: list[str] = []
    spread = args.kwarg is not None
    for arg in [*positional[1:], *args.kwonlyargs]:  # after the Context
        if arg.arg in declared:
            continue
        default = defaults.get(arg.arg)
        if not _is_injected(arg.annotation, default, types):
            continue
        if default is None:
            required.append(arg.arg)
        else:
            spread = True
    return Injected(tuple(required), spread)


def _is_injected(annotation: ast.expr | None, default: ast.expr | None, types: set[str]) -> bool:
    if isinstance(default, ast.Call):
        return True
    if annotation is None:
        return False
    if any(isinstance(node, ast.Call) for node in ast.walk(annotation)):
        return True
    names = [n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)]
    names += [n.attr for n in ast.walk(annotation) if isinstance(n, ast.Attribute)]
    return any(n not in _PLAIN_NAMES and n not in types for n in names)
