"""Random contract modules and random changes to them, for the agreement property test.

A ``Contract`` is a small model of a contract module (an Enum, a Literal, a constrained int, a
NewType, two record types of any kind and options, two tasks); ``render`` writes it as Python
source; ``changes`` draws one or two edits of the kinds people make (reorder, insert, remove,
retype, default, rename, pin, swap, option, kind...). ``valid`` says whether Python and msgspec
accept the result, so that the test only runs contracts that load.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypothesis import strategies as st

RECORD_KINDS = ("struct", "dataclass", "typeddict", "namedtuple")
PLAIN = ("int", "float", "str", "bool", "list[int]", "dict[str, int]", "dict[str, float]")
NAMED = ("int | None", "Color", "Lit", "Bounded", "UserId")
#: Types a field of R1 may have; R0 may also hold an R1, a task anything.
LEAF_TYPES = PLAIN + NAMED
FACTORIES = {"list[int]": "list", "dict[str, int]": "dict", "dict[str, float]": "dict"}


@dataclass
class FieldSpec:
    name: str
    type: str
    default: bool = False
    variant: int = 0
    wire: str | None = None
    required: bool = True  # TypedDict only


@dataclass
class RecordSpec:
    name: str
    kind: str
    fields: list[FieldSpec]
    array_like: bool = False
    omit_defaults: bool = False
    forbid: bool = False
    kw_only: bool = False
    tag: str | None = None


@dataclass
class ParamSpec:
    name: str
    type: str
    default: bool = False
    variant: int = 0
    keyword_only: bool = False


@dataclass
class TaskSpec:
    function: str
    params: list[ParamSpec]
    returns: str
    queue: str = "jobs"
    wire: str | None = None
    #: The declared progress type (``@task(progress=...)``), or None for a number.
    progress: str | None = None


@dataclass
class Contract:
    members: list[tuple[str, int]]
    literal: list[str]
    bound: int
    records: list[RecordSpec]  # R1 first: R0 may refer to it
    tasks: list[TaskSpec] = field(default_factory=list)


# -- rendering ----------------------------------------------------------------------------------


def render(c: Contract) -> str:
    """The contract as a module that ``load_contracts`` reads as contracts/jobs.py."""
    lines = [
        "import dataclasses",
        "import enum",
        "import typing",
        "",
        "import msgspec",
        "",
        "from taskgen import task",
        "",
        "",
        "class Color(enum.IntEnum):",
        *(f"    {name} = {value}" for name, value in c.members),
        "",
        "",
        f"Lit = typing.Literal[{', '.join(repr(v) for v in c.literal)}]",
        f"Bounded = typing.Annotated[int, msgspec.Meta(ge={c.bound})]",
        'UserId = typing.NewType("UserId", int)',
        "",
    ]
    for record in c.records:
        lines += ["", *_record(c, record), ""]
    for t in c.tasks:
        lines += ["", *_task(c, t)]
    return "\n".join(lines) + "\n"


def _default(c: Contract, tp: str, variant: int) -> str:
    if tp == "int":
        return str(5 + variant)
    if tp == "float":
        return f"{variant}.5"
    if tp == "str":
        return f'"d{variant}"'
    if tp == "bool":
        return "True" if variant % 2 else "False"
    if tp in ("int | None", "R1 | None"):
        return "None"
    if tp == "Color":
        return f"Color.{c.members[variant % len(c.members)][0]}"
    if tp == "Lit":
        return repr(c.literal[variant % len(c.literal)])
    if tp == "Bounded":
        return str(c.bound + variant)
    raise AssertionError(tp)


def has_default(tp: str) -> bool:
    """Whether a value of this type can be a default (containers only as factories)."""
    return tp not in ("UserId", "R0", "R1")


def _record(c: Contract, r: RecordSpec) -> list[str]:
    if r.kind == "struct":
        options = [
            f"{k}=True"
            for k, on in (
                ("array_like", r.array_like),
                ("omit_defaults", r.omit_defaults),
                ("forbid_unknown_fields", r.forbid),
                ("kw_only", r.kw_only),
            )
            if on
        ]
        if r.tag is not None:
            options.append(f"tag={r.tag!r}")
        head = [f"class {r.name}({', '.join(['msgspec.Struct', *options])}):"]
    elif r.kind == "dataclass":
        head = ["@dataclasses.dataclass", f"class {r.name}:"]
    elif r.kind == "typeddict":
        head = [f"class {r.name}(typing.TypedDict):"]
    else:
        head = [f"class {r.name}(typing.NamedTuple):"]
    body = [f"    {_field(c, r, f)}" for f in r.fields] or ["    pass"]
    return head + body


def _field(c: Contract, r: RecordSpec, f: FieldSpec) -> str:
    if r.kind == "typeddict":
        return f"{f.name}: {f.type if f.required else f'typing.NotRequired[{f.type}]'}"
    factory = FACTORIES.get(f.type)
    if r.kind == "struct" and (f.wire or (f.default and factory)):
        args = [f"name={f.wire!r}"] if f.wire else []
        if f.default:
            value = _default(c, f.type, f.variant) if not factory else None
            args.append(f"default_factory={factory}" if factory else f"default={value}")
        return f"{f.name}: {f.type} = msgspec.field({', '.join(args)})"
    if not f.default:
        return f"{f.name}: {f.type}"
    if factory:
        return f"{f.name}: {f.type} = dataclasses.field(default_factory={factory})"
    return f"{f.name}: {f.type} = {_default(c, f.type, f.variant)}"


def _task(c: Contract, t: TaskSpec) -> list[str]:
    options = [f"queue={t.queue!r}"] + ([f"name={t.wire!r}"] if t.wire else [])
    options += [f"progress={t.progress}"] if t.progress else []
    positional = [p for p in t.params if not p.keyword_only]
    keyword = [p for p in t.params if p.keyword_only]
    parts = [_param(c, p) for p in positional]
    if keyword:
        parts += ["*", *(_param(c, p) for p in keyword)]
    return [
        f"@task({', '.join(options)})",
        f"def {t.function}({', '.join(parts)}) -> {t.returns}: ...",
    ]


def _param(c: Contract, p: ParamSpec) -> str:
    if p.default:
        return f"{p.name}: {p.type} = {_default(c, p.type, p.variant)}"
    return f"{p.name}: {p.type}"


# -- validity -----------------------------------------------------------------------------------


def valid(c: Contract) -> bool:
    """Whether Python and msgspec accept the contract as rendered."""
    values = [v for _, v in c.members]
    names = [n for n, _ in c.members]
    # Two values at least: a type of one value, defaulted to it in an omit_defaults Struct,
    # never reaches the wire, so no experiment could show what a change to it breaks.
    if len(values) < 2 or len(set(values)) != len(values) or len(set(names)) != len(names):
        return False
    if len(c.literal) < 2 or len(set(c.literal)) != len(c.literal):
        return False
    for r in c.records:
        names = [f.name for f in r.fields]
        wires = [f.wire or f.name for f in r.fields]
        if len(set(names)) != len(names) or len(set(wires)) != len(wires):
            return False
        if r.kind == "typeddict":
            continue
        if any(f.default and not has_default(f.type) for f in r.fields):
            return False
        if r.kind == "namedtuple" and any(f.default and f.type in FACTORIES for f in r.fields):
            return False
        if not (r.kind == "struct" and r.kw_only) and not _defaults_trail(r.fields):
            return False
    wires = [t.wire or f"jobs.{t.function}" for t in c.tasks]
    if len(set(wires)) != len(wires) or len({t.function for t in c.tasks}) != len(c.tasks):
        return False
    for t in c.tasks:
        names = [p.name for p in t.params]
        if len(set(names)) != len(names):
            return False
        if any(p.default and (not has_default(p.type) or p.type in FACTORIES) for p in t.params):
            return False
        if not _defaults_trail([p for p in t.params if not p.keyword_only]):
            return False
    return True


def _defaults_trail(items: list[FieldSpec] | list[ParamSpec]) -> bool:
    seen_default = False
    for item in items:
        if item.default:
            seen_default = True
        elif seen_default:
            return False
    return True


# -- strategies ---------------------------------------------------------------------------------

_names = st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"])


@st.composite
def field_specs(draw: st.DrawFn, types: tuple[str, ...]) -> FieldSpec:
    tp = draw(st.sampled_from(types))
    return FieldSpec(
        name=draw(_names),
        type=tp,
        default=has_default(tp) and draw(st.booleans()),
        variant=draw(st.integers(0, 1)),
        required=draw(st.booleans()),
    )


@st.composite
def records(draw: st.DrawFn, name: str, types: tuple[str, ...]) -> RecordSpec:
    kind = draw(st.sampled_from(RECORD_KINDS))
    fields = draw(st.lists(field_specs(types), min_size=1, max_size=4, unique_by=lambda f: f.name))
    struct = kind == "struct"
    fields.sort(key=lambda f: f.default)  # required fields first, as Python wants them
    return RecordSpec(
        name,
        kind,
        fields,
        array_like=struct and draw(st.booleans()),
        omit_defaults=struct and draw(st.booleans()),
        forbid=struct and draw(st.booleans()),
        kw_only=struct and draw(st.booleans()),
    )


@st.composite
def tasks(draw: st.DrawFn, function: str) -> TaskSpec:
    types = (*LEAF_TYPES, "R0", "R1", "R1 | None")
    params = draw(
        st.lists(
            st.builds(
                ParamSpec,
                name=_names,
                type=st.sampled_from(types),
                default=st.booleans(),
                variant=st.integers(0, 1),
                keyword_only=st.booleans(),
            ),
            min_size=0,
            max_size=4,
            unique_by=lambda p: p.name,
        )
    )
    for p in params:
        p.default = p.default and has_default(p.type) and p.type not in FACTORIES
    params.sort(key=lambda p: p.default and not p.keyword_only)
    progress = draw(st.none() | st.sampled_from(types))
    return TaskSpec(function, params, draw(st.sampled_from(types)), progress=progress)


@st.composite
def contracts(draw: st.DrawFn) -> Contract:
    members = draw(
        st.lists(st.sampled_from(["RED", "GREEN", "BLUE"]), min_size=2, max_size=3, unique=True)
    )
    c = Contract(
        members=[(m, i + 1) for i, m in enumerate(members)],
        literal=draw(
            st.lists(st.sampled_from(["x", "y", "z"]), min_size=2, max_size=3, unique=True)
        ),
        bound=draw(st.integers(0, 3)),
        records=[draw(records("R1", LEAF_TYPES)), draw(records("R0", (*LEAF_TYPES, "R1")))],
    )
    c.tasks = [draw(tasks("alpha")), draw(tasks("beta"))]
    return c


@st.composite
def changes(draw: st.DrawFn, c: Contract) -> Contract:
    """One or two random edits of ``c`` (a deep copy)."""
    new = copy.deepcopy(c)
    for _ in range(draw(st.integers(1, 2))):
        edit = draw(st.sampled_from(EDITS))
        edit(draw, new)
    return new


def _record_of(draw: st.DrawFn, c: Contract) -> RecordSpec:
    return draw(st.sampled_from(c.records))


def _field_of(draw: st.DrawFn, c: Contract) -> tuple[RecordSpec, FieldSpec]:
    r = _record_of(draw, c)
    return r, draw(st.sampled_from(r.fields))


def _reorder_fields(draw: st.DrawFn, c: Contract) -> None:
    r = _record_of(draw, c)
    r.fields = draw(st.permutations(r.fields))


def _insert_field(draw: st.DrawFn, c: Contract) -> None:
    r = _record_of(draw, c)
    types = LEAF_TYPES + (("R1",) if r.name == "R0" else ())
    f = draw(field_specs(types))
    f.name = draw(st.sampled_from(["m", "n", "o"]))
    r.fields.insert(draw(st.integers(0, len(r.fields))), f)


def _remove_field(draw: st.DrawFn, c: Contract) -> None:
    r, f = _field_of(draw, c)
    if len(r.fields) > 1:  # a type with no fields says nothing of what it holds
        r.fields.remove(f)


def _retype(draw: st.DrawFn, was: str, pool: tuple[str, ...]) -> str:
    """Another type for a slot. A map and a record are not swapped: msgspec decodes a map into
    any record (unknown keys ignored, defaults filled in), and the experiment cannot tell a
    TypedDict's dict from a plain one, so it would call that change compatible."""
    maps, records = {t for t in pool if t.startswith("dict")}, {"R0", "R1", "R1 | None"}
    if was in maps:
        pool = tuple(t for t in pool if t not in records)
    elif was in records:
        pool = tuple(t for t in pool if t not in maps)
    return draw(st.sampled_from(pool))


def _retype_field(draw: st.DrawFn, c: Contract) -> None:
    _, f = _field_of(draw, c)
    f.type = _retype(draw, f.type, LEAF_TYPES + (("R1",) if f.type == "R1" else ()))


def _toggle_default(draw: st.DrawFn, c: Contract) -> None:
    _, f = _field_of(draw, c)
    f.default = not f.default


def _change_default(draw: st.DrawFn, c: Contract) -> None:
    _, f = _field_of(draw, c)
    f.variant = 1 - f.variant


def _toggle_required(draw: st.DrawFn, c: Contract) -> None:
    _, f = _field_of(draw, c)
    f.required = not f.required


def _pin_or_rename(draw: st.DrawFn, c: Contract) -> None:
    r, f = _field_of(draw, c)
    old = f.wire or f.name
    f.name = draw(st.sampled_from(["p", "q"]))
    f.wire = old if r.kind == "struct" and draw(st.booleans()) else None


def _swap_wire_names(draw: st.DrawFn, c: Contract) -> None:
    r = _record_of(draw, c)
    if r.kind == "struct" and len(r.fields) >= 2:
        a, b = draw(st.permutations(r.fields))[:2]
        a.wire, b.wire = b.wire or b.name, a.wire or a.name


def _toggle_option(draw: st.DrawFn, c: Contract) -> None:
    r = _record_of(draw, c)
    if r.kind != "struct":
        return
    option = draw(st.sampled_from(["array_like", "omit_defaults", "forbid", "kw_only", "tag"]))
    if option == "tag":
        r.tag = None if r.tag else draw(st.sampled_from(["t1", "t2"]))
    else:
        setattr(r, option, not getattr(r, option))


def _change_kind(draw: st.DrawFn, c: Contract) -> None:
    r = _record_of(draw, c)
    r.kind = draw(st.sampled_from(RECORD_KINDS))
    if r.kind != "struct":
        r.array_like = r.omit_defaults = r.forbid = r.kw_only = False
        r.tag = None
        for f in r.fields:
            f.wire = None


def _enum_edit(draw: st.DrawFn, c: Contract) -> None:
    edit = draw(st.sampled_from(["add", "remove", "swap", "rename"]))
    if edit == "add":
        c.members.append(("PINK", 9))
    elif edit == "remove" and len(c.members) > 2:
        c.members.pop(draw(st.integers(0, len(c.members) - 1)))
    elif edit == "swap" and len(c.members) > 1:
        (n0, v0), (n1, v1) = c.members[0], c.members[1]
        c.members[0], c.members[1] = (n0, v1), (n1, v0)
    elif edit == "rename":
        name, value = c.members[0]
        c.members[0] = (f"{name}_X", value)


def _literal_edit(draw: st.DrawFn, c: Contract) -> None:
    if draw(st.booleans()) or len(c.literal) == 2:
        c.literal.append("w")
    else:
        c.literal.pop()


def _bound_edit(draw: st.DrawFn, c: Contract) -> None:
    c.bound += draw(st.sampled_from([-1, 1]))


def _task_of(draw: st.DrawFn, c: Contract) -> TaskSpec:
    return draw(st.sampled_from(c.tasks))


def _param_edit(draw: st.DrawFn, c: Contract) -> None:
    t = _task_of(draw, c)
    edit = draw(
        st.sampled_from(["insert", "remove", "reorder", "retype", "kind", "default", "variant"])
    )
    if edit == "insert":
        p = ParamSpec(draw(st.sampled_from(["x", "y"])), draw(st.sampled_from(LEAF_TYPES)))
        p.default, p.keyword_only = draw(st.booleans()), draw(st.booleans())
        t.params.insert(draw(st.integers(0, len(t.params))), p)
    elif not t.params:
        return
    elif edit == "remove":
        t.params.pop(draw(st.integers(0, len(t.params) - 1)))
    elif edit == "reorder":
        t.params = draw(st.permutations(t.params))
    else:
        p = draw(st.sampled_from(t.params))
        if edit == "retype":
            p.type = _retype(draw, p.type, (*LEAF_TYPES, "R0", "R1"))
        elif edit == "kind":
            p.keyword_only = not p.keyword_only
        elif edit == "default":
            p.default = not p.default
        else:
            p.variant = 1 - p.variant


def _task_edit(draw: st.DrawFn, c: Contract) -> None:
    t = _task_of(draw, c)
    edit = draw(st.sampled_from(["returns", "progress", "queue", "pin", "swap", "rename"]))
    if edit == "returns":
        t.returns = _retype(draw, t.returns, (*LEAF_TYPES, "R0", "R1", "R1 | None"))
    elif edit == "progress":  # declare one, drop it, or retype it
        pool = (*LEAF_TYPES, "R0", "R1", "R1 | None")
        if t.progress is None:
            t.progress = draw(st.sampled_from(pool))
        elif draw(st.booleans()):
            t.progress = None
        else:
            t.progress = _retype(draw, t.progress, pool)
    elif edit == "queue":
        t.queue = "other"
    elif edit == "pin":
        t.wire = draw(st.sampled_from([f"jobs.{t.function}", "jobs.pinned"]))
    elif edit == "swap":
        a, b = c.tasks
        a.wire, b.wire = b.wire or f"jobs.{b.function}", a.wire or f"jobs.{a.function}"
    else:
        t.wire = t.wire or f"jobs.{t.function}"
        t.function = f"{t.function}_v2"


EDITS = [
    _reorder_fields,
    _insert_field,
    _remove_field,
    _retype_field,
    _toggle_default,
    _change_default,
    _toggle_required,
    _pin_or_rename,
    _swap_wire_names,
    _toggle_option,
    _change_kind,
    _enum_edit,
    _literal_edit,
    _bound_edit,
    _param_edit,
    _task_edit,
]

__all__ = ["Contract", "changes", "contracts", "render", "valid"]
