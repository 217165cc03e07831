"""The experiment that ``taskgen check``'s rules must agree with: msgspec itself is the oracle.

For two versions of a contract module (imported for real), it writes sample values with one
version's types and reads them with the other's, in both directions, for every task's arguments
(as the generated client's args Struct: by name, every value sent) and result; and it calls each
task and constructs each record type with the old version's call shapes against the new
signatures (``inspect.Signature.bind``). What breaks is a set of (direction, position) pairs:
a decode error, or a value that decodes into another field, member or parameter (silent).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.util
import inspect
import itertools
import sys
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from taskgen.vocabulary import PROGRESS_ATTR, TASK_ATTR, TaskOptions
from taskgen_codegen.check.compat import Finding
from taskgen_codegen.check.lineage import lineage_of
from taskgen_codegen.check.lock import Lock
from taskgen_codegen.check.rules import NEW_TO_OLD, OLD_TO_NEW, SOURCE, Direction, Position

#: What broke: a direction, and whether in arguments or results (SOURCE always "args").
Break = tuple[Direction, Position]

_counter = itertools.count()


def import_module(path: Path, module: str = "jobs") -> types.ModuleType:
    """Import a contract module from ``path`` under a fresh name (``module`` names its tasks)."""
    name = f"_agreement_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded  # dataclasses and get_type_hints look the module up
    try:
        spec.loader.exec_module(loaded)
    finally:
        del sys.modules[name]
    loaded.__dict__["__contract_module__"] = module
    return loaded


@dataclasses.dataclass(frozen=True)
class Task:
    """One task of an imported contract module, as the wire and its callers see it."""

    wire: str
    function: Callable[..., Any]
    queue: str
    args: type[msgspec.Struct]
    result: Any
    #: The declared progress type; None when its handler reports a number.
    progress: Any = None

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.function)


def tasks_of(module: types.ModuleType) -> dict[str, Task]:
    """Every ``@task`` of the module by wire name, with an args Struct like the client's."""
    found: dict[str, Task] = {}
    prefix = module.__dict__["__contract_module__"]
    for value in vars(module).values():
        options = getattr(value, TASK_ATTR, None)
        if not isinstance(options, TaskOptions):
            continue
        hints = typing.get_type_hints(value, include_extras=True)
        fields: list[Any] = []
        for param in inspect.signature(value).parameters.values():
            if param.default is inspect.Parameter.empty:
                fields.append((param.name, hints[param.name]))
            else:
                fields.append((param.name, hints[param.name], param.default))
        wire = options.name or f"{prefix}.{value.__name__}"
        args = msgspec.defstruct(f"{value.__name__}_args", fields, kw_only=True)
        progress = getattr(value, PROGRESS_ATTR, None)
        found[wire] = Task(wire, value, options.queue, args, hints["return"], progress)
    return found


# -- samples ------------------------------------------------------------------------------------


def samples(tp: Any, label: str = "v") -> list[Any]:
    """Values of type ``tp``: every Enum member, Literal value and union option, the bounds of
    constraints, and each record both filled in and with its defaults (what omit_defaults and
    TypedDict totality leave out)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        inner = samples(args[0], label)
        meta = [m for m in args[1:] if isinstance(m, msgspec.Meta)]
        candidates = inner + [c for m in meta for c in _bounds(m, args[0])]
        return [c for c in candidates if _valid(c, tp)] or inner[:1]
    if isinstance(tp, typing.NewType):
        return samples(tp.__supertype__, label)
    if origin in (typing.Union, types.UnionType):
        return [v for a in args for v in samples(a, label)]
    if origin is typing.Literal:
        return list(args)
    if tp is type(None) or tp is None:
        return [None]
    if tp is bool:
        return [True, False]
    if tp is int:
        return [7 + len(label), 0, -3, 70_000]
    if tp is float:
        return [1.5, 2.0 + len(label)]
    if tp is str:
        return [f"{label}-s", "", "x" * 300]
    if tp is bytes:
        return [label.encode()]
    if origin in (list, set, frozenset):
        element = samples(args[0], label)
        return [origin(), origin(element[:1]) if origin is list else _set(origin, element)]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return [(), tuple(samples(args[0], label)[:2])]
        return [tuple(samples(a, f"{label}{i}")[0] for i, a in enumerate(args))]
    if origin is dict:
        keys, values = samples(args[0], label), samples(args[1], label)
        return [Entries()] + [Entries({keys[0]: v}) for v in values]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return list(tp)
    if isinstance(tp, type):
        return _records(tp)
    raise AssertionError(f"no samples for {tp!r}")


def _set(origin: Any, element: list[Any]) -> Any:
    try:
        return origin(element[:2])
    except TypeError:
        return origin()


def _bounds(meta: msgspec.Meta, base: Any) -> list[Any]:
    out: list[Any] = []
    for bound in (meta.ge, meta.gt, meta.le, meta.lt):
        if isinstance(bound, int | float):
            out += [bound - 1, bound, bound + 1]
    for length in (meta.min_length, meta.max_length):
        if length is not None and base is str:
            out += ["x" * max(0, length - 1), "x" * length, "x" * (length + 1)]
    return out


def _valid(value: Any, tp: Any) -> bool:
    try:
        msgspec.convert(value, tp)
    except (msgspec.ValidationError, TypeError):
        return False
    return True


def _record_fields(tp: type) -> list[tuple[str, Any, bool, bool]]:
    """(name, type, required, by position) for each field a constructor takes."""
    hints = typing.get_type_hints(tp, include_extras=True)
    if issubclass(tp, msgspec.Struct):
        info = msgspec.structs.fields(tp)
        return [(f.name, hints[f.name], f.required, True) for f in info]
    if dataclasses.is_dataclass(tp):
        return [
            (f.name, hints[f.name], _dc_required(f), not f.kw_only)
            for f in dataclasses.fields(tp)
            if f.init
        ]
    if typing.is_typeddict(tp):
        required = tp.__required_keys__  # type: ignore[attr-defined]
        return [(k, _strip_required(hints[k]), k in required, False) for k in hints]
    if issubclass(tp, tuple) and hasattr(tp, "_fields"):
        defaults = getattr(tp, "_field_defaults", {})
        return [(k, hints[k], k not in defaults, True) for k in tp._fields]
    raise AssertionError(f"not a record type: {tp!r}")


def _dc_required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _strip_required(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Required, typing.NotRequired):
        return typing.get_args(tp)[0]
    return tp


def _records(tp: type) -> list[Any]:
    """Instances of a record type: each field's samples in turn, offset by the field's index
    so that two fields of one type hold different values; then one with only required fields."""
    fields = _record_fields(tp)
    values = [samples(t, name) for name, t, _, _ in fields]
    count = max((len(v) for v in values), default=1)
    out = []
    for k in range(count):
        kwargs = {
            f[0]: v[(k + i) % len(v)] for i, (f, v) in enumerate(zip(fields, values, strict=False))
        }
        out.append(tp(**kwargs))
    out.append(tp(**{f[0]: v[0] for f, v in zip(fields, values, strict=False) if f[2]}))
    return out


# -- comparing what was sent with what was read ---------------------------------------------------


class Entries(dict[Any, Any]):
    """A sample of a ``dict[K, V]``: data, so every entry counts (a TypedDict's value is a
    plain dict, compared by the keys both sides know); msgspec encodes it as a dict."""


def same(sent: Any, read: Any) -> bool:
    """Whether ``read`` means what ``sent`` meant: fields and members compared by Python name
    where both sides have it (a field or member only renamed is not a change of meaning)."""
    if isinstance(sent, Entries) and isinstance(read, dict):
        # In msgpack's order, so that a key read as a renamed member still pairs up.
        pairs = zip(sent.items(), read.items(), strict=False)
        return len(sent) == len(read) and all(same(k, j) and same(v, w) for (k, v), (j, w) in pairs)
    if isinstance(sent, enum.Enum) and isinstance(read, enum.Enum):
        if sent.name == read.name:
            return True
        # Another member read: a swap when either side also knows the other's name.
        return not (read.name in type(sent).__members__ or sent.name in type(read).__members__)
    sent_fields, read_fields = _fields(sent), _fields(read)
    if sent_fields is not None and read_fields is not None:
        common = sent_fields.keys() & read_fields.keys()
        return all(same(sent_fields[k], read_fields[k]) for k in common)
    if isinstance(sent, list | tuple) and isinstance(read, list | tuple):
        return len(sent) == len(read) and all(map(same, sent, read))
    if isinstance(sent, set | frozenset) and isinstance(read, set | frozenset):
        return len(sent) == len(read)
    return bool(sent == read)


def _fields(value: Any) -> dict[str, Any] | None:
    if isinstance(value, msgspec.Struct):
        return {f: getattr(value, f) for f in value.__struct_fields__}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return dict(value._asdict())
    if isinstance(value, dict):
        return value
    return None


def crossing_breaks(sent_values: list[Any], reader: Any) -> bool:
    """Whether some value, encoded as msgpack, fails to decode as ``reader`` or changes meaning."""
    for value in sent_values:
        try:
            read = msgspec.msgpack.decode(msgspec.msgpack.encode(value), type=reader)
        except msgspec.DecodeError:
            return True
        if not same(value, read):
            return True
    return False


def args_samples(task: Task) -> list[msgspec.Struct]:
    """Argument Structs of a task: each parameter's samples in turn."""
    fields = [(f.name, f.type) for f in msgspec.structs.fields(task.args)]
    values = [samples(t, name) for name, t in fields]
    count = max((len(v) for v in values), default=1)
    return [
        task.args(
            **{
                n: v[(k + i) % len(v)]
                for i, ((n, _), v) in enumerate(zip(fields, values, strict=False))
            }
        )
        for k in range(count)
    ]


# -- calling with the old call shapes -------------------------------------------------------------


def calls_break(
    old: inspect.Signature, new: inspect.Signature, *, skip_first: bool = False
) -> bool:
    """Whether a call written for ``old`` (all by position, all by keyword, only the required
    arguments) fails against ``new`` or hands a value to another parameter."""
    params = list(old.parameters.values())[1 if skip_first else 0 :]
    marks = {p.name: object() for p in params}
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = [p for p in params if p.kind is p.KEYWORD_ONLY]
    required = {p.name for p in params if p.default is p.empty}
    head = [object()] if skip_first else []
    shapes = [
        ([p.name for p in positional], [p.name for p in keyword]),
        (
            [p.name for p in positional if p.kind is p.POSITIONAL_ONLY],
            [p.name for p in params if p.kind is not p.POSITIONAL_ONLY],
        ),
        (
            [p.name for p in positional if p.name in required],
            [p.name for p in keyword if p.name in required],
        ),
    ]
    for by_position, by_keyword in shapes:
        try:
            bound = new.bind(
                *head, *(marks[n] for n in by_position), **{n: marks[n] for n in by_keyword}
            )
        except TypeError:
            return True
        for name, value in bound.arguments.items():
            if value in marks.values() and marks.get(name) is not value:
                return True
    return False


# -- the whole experiment ---------------------------------------------------------------------


def experiment(old: types.ModuleType, new: types.ModuleType) -> set[Break]:
    """Every (direction, position) in which values or calls of one version break on the other."""
    return set().union(*experiment_by_task(old, new).values())


def experiment_by_task(old: types.ModuleType, new: types.ModuleType) -> dict[str, set[Break]]:
    """What breaks, for each task by wire name (the new one, for a task whose name changed)."""
    before, after = tasks_of(old), tasks_of(new)
    functions_now = {t.function.__name__ for t in after.values()}
    # A task whose wire name changed is still the same function: compare it too.
    added = {after[w].function.__name__: w for w in after.keys() - before.keys()}
    pairs = [(w, w) for w in before.keys() & after.keys()]
    pairs += [
        (w, added[before[w].function.__name__])
        for w in before.keys() - after.keys()
        if before[w].function.__name__ in added
    ]
    broken: dict[str, set[Break]] = {}
    for wire in before.keys() - after.keys():
        broken[wire] = {(OLD_TO_NEW, "args")}  # queued payloads find no handler
    for wire in after.keys() - before.keys():
        broken[wire] = {(NEW_TO_OLD, "args")}  # old workers have no handler
    for old_wire, new_wire in pairs:
        broken[new_wire] = found = broken.get(new_wire, set())
        if old_wire != new_wire:
            found |= {(OLD_TO_NEW, "args"), (NEW_TO_OLD, "args")}
        was, now = before[old_wire], after[new_wire]
        swapped = (
            was.function.__name__ != now.function.__name__
            and was.function.__name__ in functions_now
        )
        if was.queue != now.queue or swapped:
            found |= {(OLD_TO_NEW, "args"), (NEW_TO_OLD, "args")}
        if swapped:  # compare the function with itself, wherever it went
            now = next(t for t in after.values() if t.function.__name__ == was.function.__name__)
        if crossing_breaks(args_samples(was), now.args):
            found.add((OLD_TO_NEW, "args"))
        if crossing_breaks(args_samples(now), was.args):
            found.add((NEW_TO_OLD, "args"))
        if crossing_breaks(samples(was.result), now.result):
            found.add((OLD_TO_NEW, "result"))
        if crossing_breaks(samples(now.result), was.result):
            found.add((NEW_TO_OLD, "result"))
        # Progress crosses like a result. Where only one side declares a type, nothing fails
        # on the wire: a typed reader reads an untyped report as None, an untyped one reads 0.0.
        if was.progress is not None and now.progress is not None:
            if crossing_breaks(samples(was.progress), now.progress):
                found.add((OLD_TO_NEW, "progress"))
            if crossing_breaks(samples(now.progress), was.progress):
                found.add((NEW_TO_OLD, "progress"))
        if was.function.__name__ == now.function.__name__ and calls_break(
            was.signature, now.signature
        ):
            found.add((SOURCE, "args"))
        for name, kind in _reached_records(was).items():
            twin = _reached_records(now).get(name)
            if twin is not None and calls_break(_constructor(kind), _constructor(twin)):
                found.add((SOURCE, "args"))
    return broken


def _reached_records(task: Task) -> dict[str, type]:
    """The record types a task's arguments, result and progress reach (by class name)."""
    found: dict[str, type] = {}
    for f in msgspec.structs.fields(task.args):
        _reach(f.type, found)
    _reach(task.result, found)
    if task.progress is not None:
        _reach(task.progress, found)
    return {
        name: kind
        for name, kind in found.items()
        if not typing.is_typeddict(kind) and not issubclass(kind, enum.Enum)
    }


def _reach(tp: Any, found: dict[str, type]) -> None:
    if isinstance(tp, typing.NewType):
        _reach(tp.__supertype__, found)
        return
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Annotated:
        args = args[:1]
    for arg in args:
        if arg is not Ellipsis and not isinstance(arg, str | int | bool):
            _reach(arg, found)
    if isinstance(tp, type) and tp.__name__ not in found and not typing.get_args(tp):
        if issubclass(tp, enum.Enum) or tp.__module__ == "builtins":
            return
        found[tp.__name__] = tp
        for _, field_type, _, _ in _record_fields(tp):
            _reach(field_type, found)


def _constructor(kind: type) -> inspect.Signature:
    return inspect.signature(kind)


def classified(findings: list[Finding]) -> set[Break]:
    """The (direction, position) pairs that the findings say break."""
    return {
        _normal(direction, finding.position)
        for finding in findings
        for direction in finding.directions
    }


def _normal(direction: Direction, position: Position) -> Break:
    return (direction, "args" if direction is SOURCE else position)


def disagreement(findings: list[Finding], seen: set[Break]) -> str:
    """Why the classification and the experiment disagree ("" when they agree).

    On the wire they must be equal. For SOURCE the experiment sees only calls and constructors
    (not imports, annotations or types), so every source break it sees must be classified.
    """
    return _compare(classified(findings), seen, findings)


def task_disagreement(
    by_task: dict[str, frozenset[Break]], seen: dict[str, set[Break]], findings: list[Finding]
) -> str:
    """The same, task by task: ``compat.breaks_by_task`` against the experiment's."""
    problems = []
    for wire in sorted(by_task.keys() | seen.keys()):
        said = {_normal(d, p) for d, p in by_task.get(wire, frozenset())}
        problem = _compare(said, seen.get(wire, set()), [])
        if problem:
            problems.append(f"task {wire}: {problem}")
    if not problems:
        return ""
    return "\n".join(problems) + "\nfindings:\n" + _listing(findings)


def _compare(said: set[Break], seen: set[Break], findings: list[Finding]) -> str:
    wire_said = {b for b in said if b[0] is not SOURCE}
    wire_seen = {b for b in seen if b[0] is not SOURCE}
    problems = []
    if wire_seen - wire_said:
        problems.append(f"breaks that no finding classifies: {_spell(wire_seen - wire_said)}")
    if wire_said - wire_seen:
        shown = _spell(wire_said - wire_seen)
        problems.append(f"classified breaks that msgspec does not show: {shown}")
    if (SOURCE, "args") in seen and (SOURCE, "args") not in said:
        problems.append("a call or constructor of the old shape breaks, and no finding says so")
    if problems and findings:
        return "; ".join(problems) + "\nfindings:\n" + _listing(findings)
    return "; ".join(problems)


def _listing(findings: list[Finding]) -> str:
    return (
        "\n".join(
            f"  {f.severity} {f.rule.id} {sorted(d.value for d in f.directions)} {f.position} "
            f"{f.subject}: {f.reason}"
            for f in findings
        )
        or "  (none)"
    )


def _spell(breaks: set[Break]) -> str:
    return ", ".join(sorted(f"{d.value} in {p}" for d, p in breaks))


def iter_pairs(folder: Path) -> Iterator[tuple[str, Path, Path]]:
    """Every before/after fixture pair below ``folder``."""
    for case in sorted(p for p in folder.iterdir() if (p / "before.py").is_file()):
        yield case.name, case / "before.py", case / "after.py"


# -- the registry's lineage -------------------------------------------------------------------


#: The test's own account (not the code's) of what breaks an old client on a new worker: the
#: worker reads the client's arguments, the client the worker's result and progress; and the
#: reverse pair.
OLD_CLIENT_NEW_WORKER: set[Break] = {
    (OLD_TO_NEW, "args"),
    (NEW_TO_OLD, "result"),
    (NEW_TO_OLD, "progress"),
}
NEW_CLIENT_OLD_WORKER: set[Break] = {
    (NEW_TO_OLD, "args"),
    (OLD_TO_NEW, "result"),
    (OLD_TO_NEW, "progress"),
}


def lineage_disagreement(
    old: Lock, new: Lock, findings: list[Finding], seen: dict[str, set[Break]]
) -> str:
    """Where the lineage a build records (which earlier fingerprints share a queue with the new
    version) differs from what msgspec does with the two versions' values."""
    lineages = lineage_of(old, new, findings)
    problems = []
    for wire, task in new.tasks.items():
        before = old.tasks.get(wire)
        if before is None or before.fingerprint == task.fingerprint:
            continue
        broken = seen.get(wire, set())
        lineage = lineages[wire]
        for name, recorded, breaks in (
            ("accepts", lineage.accepts, OLD_CLIENT_NEW_WORKER),
            ("decoded_by", lineage.decoded_by, NEW_CLIENT_OLD_WORKER),
        ):
            works = not (broken & breaks)
            if (before.fingerprint in recorded) != works:
                problems.append(
                    f"{wire}: {name} {'lacks' if works else 'holds'} the old fingerprint, "
                    f"but msgspec {'decodes' if works else 'fails'} ({_spell(broken)})"
                )
    return "; ".join(problems)
