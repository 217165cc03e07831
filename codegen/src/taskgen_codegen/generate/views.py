"""What the templates see: the contract model with every spelling and name already decided."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from taskgen.vocabulary import parse_rate
from taskgen_codegen.check.lineage import NO_LINEAGE, Lineage
from taskgen_codegen.contract.model import (
    ContractModel,
    DataclassDef,
    Default,
    Definition,
    EnumDef,
    Field,
    NewTypeDef,
    Param,
    StructDef,
    TaskSpec,
    TypedDictDef,
    TypeExpr,
    literal,
    qualified,
    refs_of,
)
from taskgen_codegen.generate.names import (
    args_class,
    attribute,
    docstring,
    pascal,
    task_class,
    task_constant,
)

#: Modules whose names generated code spells: a class body's field may hide one of them.
SPELLED_MODULES = ("dataclasses", "datetime", "decimal", "enum", "msgspec", "typing", "uuid")


@dataclass
class Imports:
    """Modules and model names one generated file needs, collected while views are built."""

    modules: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    #: Modules the file imports under another name (see ``module_aliases``).
    aliases: dict[str, str] = field(default_factory=dict)

    def type(self, expr: TypeExpr) -> str:
        """Note what ``expr`` needs and return its spelling."""
        self.modules |= expr.imports()
        self.names |= refs_of(expr)
        return expr.spell(self.aliases)

    def default(self, default: Default | None) -> str | None:
        """Note what a default needs and return its spelling."""
        if default is None:
            return None
        self.names.update(default.refs)
        self.modules.update(default.modules)
        return default.spell(self.aliases)

    def qualified(self, module: str, name: str) -> str:
        """Note the import of ``module`` and return ``module.name`` as this file spells it."""
        self.modules.add(module)
        return qualified(module, name, self.aliases)


@dataclass(frozen=True)
class ParamView:
    """One task parameter, spelled."""

    name: str
    kind: str
    annotation: str
    default: str | None

    def declaration(self, *, with_default: bool) -> str:
        """``name: annotation = default``, one parameter of a signature."""
        default = f" = {self.default}" if with_default and self.default is not None else ""
        return f"{self.name}: {self.annotation}{default}"


@dataclass(frozen=True)
class TaskView:
    """One task, with the names of everything generated for it."""

    spec: TaskSpec
    params: list[ParamView]
    returns: str
    result_value: str
    #: What the lock records of the task's earlier fingerprints.
    lineage: Lineage = NO_LINEAGE
    #: The progress type, spelled; None when the task declares none (progress is a number).
    progress: str | None = None

    @property
    def wire_name(self) -> str:
        return self.spec.wire_name

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def cls(self) -> str:
        return task_class(self.spec)

    @property
    def args_cls(self) -> str:
        return args_class(self.spec)

    @property
    def const(self) -> str:
        return task_constant(self.spec)

    @property
    def doc(self) -> str:
        return docstring(self.spec.doc, f"Task {self.spec.wire_name}.")

    @property
    def handler_alias(self) -> str:
        """The name under which the bindings module imports the handler's module."""
        return f"_{self.spec.module.replace('.', '_')}_{self.spec.name}"

    @property
    def adapter(self) -> str:
        """The bindings function that unpacks the arguments into the handler."""
        return f"_run{self.handler_alias}"

    @property
    def progress_const(self) -> str:
        """The tasks module's constant holding the task's ``runtime.ProgressType``."""
        return f"{self.const}_PROGRESS"

    def type_arguments(self) -> str:
        """The arguments, result (and progress) types of the task's generic runtime classes."""
        progress = f", {self.progress}" if self.progress is not None else ""
        return f"{self.args_cls}, {self.returns}{progress}"

    def caller_base(self, *, sync: bool) -> str:
        """The runtime base of the task's generated client class."""
        kind = "ProgressTaskCaller" if self.progress is not None else "TaskCaller"
        return f"runtime.{'Sync' if sync else ''}{kind}[{self.type_arguments()}]"

    @property
    def chain_first(self) -> ParamView | None:
        """The parameter a chain's previous step fills: the first, when it is positional."""
        if self.params and self.params[0].kind != "keyword_only":
            return self.params[0]
        return None

    def chain_base(self) -> str:
        """``runtime.Chainable[...]`` when the task itself can be a step (every parameter
        after the first has a default), else nothing."""
        first = self.chain_first
        if first is None or any(p.default is None for p in self.params[1:]):
            return ""
        return f", runtime.Chainable[{first.annotation}, {self.returns}]"

    def bind_signature(self) -> list[str]:
        """The parameters after the first, keyword-only: what ``bind`` takes."""
        rest = [p.declaration(with_default=True) for p in self.params[1:]]
        return ["*", *rest] if rest else []

    def bind_arguments(self) -> list[str]:
        """The items of the dict ``bind`` hands the runtime."""
        return [f"{literal(p.name)}: {p.name}" for p in self.params[1:]]

    def handle_type(self, *, sync: bool) -> str:
        """The handle its client class returns: ``progress()`` typed if it declares a type."""
        prefix = "runtime.Sync" if sync else "runtime."
        if self.progress is not None:
            return f"{prefix}ProgressHandle[{self.returns}, {self.progress}]"
        return f"{prefix}TaskHandle[{self.returns}]"

    @property
    def context_class(self) -> str:
        """The runtime class of the handler's context."""
        return "ProgressContext" if self.progress is not None else "Context"

    def context_type(self, module: str = "") -> str:
        """The handler's context type, ``module`` the prefix its file spells the class with."""
        if self.progress is not None:
            return f"{module}{self.context_class}[{self.progress}]"
        return f"{module}{self.context_class}"

    @property
    def retry(self) -> str:
        """The task's retry policy, spelled for the generated TaskDef."""
        r = self.spec.options.retry
        return (
            f"runtime.Retry(attempts={r.attempts}, backoff={r.backoff!r}, "
            f"max_delay={r.max_delay!r}, jitter={r.jitter})"
        )

    def flow_functions(self) -> list[tuple[str, str]]:
        """(name, expression) of each function that computes a flow-control key."""
        return [(self._flow_function(k.option), k.expression) for k in self.spec.flow_keys]

    def flow(self) -> str | None:
        """The ``flow=`` argument of the task's ``TaskDef``; None without flow control."""
        if not self.spec.flow_keys:
            return None
        options = self.spec.options
        parts = [literal(self.wire_name)]
        if options.concurrency is not None:
            fn = self._flow_function("concurrency")
            parts.append(f"concurrency=({fn}, {options.concurrency.max})")
        if options.rate is not None:
            count, period = parse_rate(options.rate.limit)
            parts.append(f"rate=({self._flow_function('rate')}, {count}, {period!r})")
        if options.unique is not None:
            parts.append(f"unique=({self._flow_function('unique')}, {options.unique.for_!r})")
        if options.fair is not None:
            parts.append(f"fair=({self._flow_function('fair')}, {options.fair.window})")
        return f"runtime.FlowControl({', '.join(parts)})"

    def _flow_function(self, option: str) -> str:
        return f"_{self.const.lower()}_{option}_key"

    def signature(self, *, with_defaults: bool) -> list[str]:
        """Parameter declarations, with ``/`` and ``*`` markers where the kinds change."""
        out: list[str] = []
        kinds = [p.kind for p in self.params]
        for i, param in enumerate(self.params):
            if param.kind == "keyword_only" and (i == 0 or kinds[i - 1] != "keyword_only"):
                out.append("*")
            out.append(param.declaration(with_default=with_defaults))
            following = kinds[i + 1] if i + 1 < len(kinds) else None
            if param.kind == "positional_only" and following != "positional_only":
                out.append("/")
        return out

    def struct_arguments(self) -> list[str]:
        """Keyword arguments that build the args Struct from the method's parameters."""
        return [f"{p.name}={p.name}" for p in self.params]

    def handler_arguments(self) -> list[str]:
        """Arguments that pass the decoded args Struct on to the handler."""
        return [
            f"args.{p.name}" if p.kind == "positional_only" else f"{p.name}=args.{p.name}"
            for p in self.params
        ]

    def accepts_items(self) -> list[str]:
        """The items of the ``accepts=`` tuple: earlier fingerprints its workers decode."""
        return [literal(f) for f in self.lineage.accepts]

    def decoded_by_items(self) -> list[str]:
        """The items of the ``decoded_by=`` tuple: earlier fingerprints whose workers decode it."""
        return [literal(f) for f in self.lineage.decoded_by]

    def param_items(self) -> list[str]:
        """The items of the ``params=`` tuple of the task's ``TaskDef``."""
        return [f"({literal(p.name)}, {literal(p.kind)})" for p in self.params]


@dataclass(frozen=True)
class ModuleView:
    """The tasks of one contract module, as one attribute of the generated client."""

    module: str
    tasks: list[TaskView]

    @property
    def attr(self) -> str:
        return attribute(self.module)

    @property
    def cls(self) -> str:
        return pascal(self.module, "tasks")

    @property
    def slots(self) -> list[str]:
        return [f'"{t.name}"' for t in self.tasks]


def task_view(spec: TaskSpec, imports: Imports, lineage: Lineage = NO_LINEAGE) -> TaskView:
    """The view of one task; records what its spellings need in ``imports``."""
    params = [_param(p, imports) for p in spec.params]
    returns = imports.type(spec.returns)
    progress = imports.type(spec.progress) if spec.progress is not None else None
    return TaskView(spec, params, returns, returns, lineage, progress)


def _param(param: Param, imports: Imports) -> ParamView:
    return ParamView(
        param.name, param.kind, imports.type(param.type), imports.default(param.default)
    )


def module_views(model: ContractModel, imports: Imports) -> list[ModuleView]:
    """One view per contract module that declares tasks, in module order."""
    return [
        ModuleView(module, [task_view(t, imports) for t in model.tasks_of(module)])
        for module in model.modules()
    ]


# -- definitions -------------------------------------------------------------------------


def module_aliases(class_names: Iterable[str]) -> dict[str, str]:
    """Private names for the modules that a class attribute of the same name would hide.

    In ``class A: uuid: uuid.UUID; parent: uuid.UUID`` mypy resolves the second ``uuid`` to
    the attribute, so a file whose classes declare ``uuid`` imports the module as ``_uuid``."""
    taken = set(class_names)
    aliases: dict[str, str] = {}
    for module in SPELLED_MODULES:
        if module in taken:
            alias = f"_{module}"
            while alias in taken:
                alias = f"_{alias}"
            aliases[module] = alias
    return aliases


def class_names(definition: Definition) -> list[str]:
    """The names a definition's generated class body declares."""
    if isinstance(definition, EnumDef):
        return [m.name for m in definition.members]
    if isinstance(definition, NewTypeDef):
        return []
    return [f.name for f in definition.fields]


@dataclass(frozen=True)
class FieldView:
    """One field of a generated model class: ``name: annotation = value``."""

    name: str
    annotation: str
    value: str | None = None


@dataclass(frozen=True)
class DefinitionView:
    """One generated model class, or a NewType assignment (``value``), ready to print."""

    name: str
    doc: str = ""
    bases: list[str] = field(default_factory=list)
    decorator: str = ""
    fields: list[FieldView] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    #: The right-hand side of ``name = value`` for a definition that is not a class.
    value: str = ""


def definition_views(definition: Definition, imports: Imports) -> list[DefinitionView]:
    """The views of one definition (a Struct may need a base); records what they need."""
    doc = docstring(definition.doc, f"{definition.name}, as the contract declares it.")
    if isinstance(definition, StructDef):
        return _struct_views(definition, doc, imports)
    if isinstance(definition, EnumDef):
        members = [f"{m.name} = {literal(m.value)}" for m in definition.members]
        base = imports.qualified("enum", definition.kind)
        return [DefinitionView(definition.name, doc, bases=[base], members=members)]
    if isinstance(definition, NewTypeDef):
        newtype = imports.qualified("typing", "NewType")
        value = f"{newtype}({literal(definition.name)}, {imports.type(definition.base)})"
        return [DefinitionView(definition.name, value=value)]
    if isinstance(definition, DataclassDef):
        return [_dataclass_view(definition, doc, imports)]
    fields = [_plain_field(f, imports) for f in definition.fields]
    kind = "TypedDict" if isinstance(definition, TypedDictDef) else "NamedTuple"
    bases = [imports.qualified("typing", kind)]
    return [DefinitionView(definition.name, doc, bases=bases, fields=fields)]


def _struct_views(definition: StructDef, doc: str, imports: Imports) -> list[DefinitionView]:
    """A Struct; one that mixes positional and keyword-only fields gets a private base class
    with the keyword-only ones, since msgspec sets ``kw_only`` per class, not per field.

    msgspec orders an inherited Struct's fields positional first, then keyword-only, so the
    base and the class together keep the wire order."""
    struct = imports.qualified("msgspec", "Struct")
    options = definition.options()
    keyword = [f for f in definition.fields if f.kw_only]
    positional = [f for f in definition.fields if not f.kw_only]
    if not keyword or not positional:
        options += ["kw_only=True"] if keyword else []
        fields = [_struct_field(f, imports) for f in definition.fields]
        return [DefinitionView(definition.name, doc, bases=[struct, *options], fields=fields)]
    base = f"_{definition.name}Keywords"
    frozen = ["frozen=True"] if definition.frozen else []
    return [
        DefinitionView(
            base,
            docstring(None, f"The keyword-only fields of {definition.name}."),
            bases=[struct, *frozen, "kw_only=True"],
            fields=[_struct_field(f, imports) for f in keyword],
        ),
        DefinitionView(
            definition.name,
            doc,
            bases=[base, *options],
            fields=[_struct_field(f, imports) for f in positional],
        ),
    ]


def _dataclass_view(definition: DataclassDef, doc: str, imports: Imports) -> DefinitionView:
    all_kw = bool(definition.fields) and all(f.kw_only for f in definition.fields)
    flags = [
        f"{flag}=True"
        for flag, on in (
            ("frozen", definition.frozen),
            ("order", definition.order),
            ("kw_only", all_kw),
        )
        if on
    ]
    decorator = "@" + imports.qualified("dataclasses", "dataclass")
    decorator += f"({', '.join(flags)})" if flags else ""
    fields = [_dataclass_field(f, imports, per_field_kw=not all_kw) for f in definition.fields]
    return DefinitionView(definition.name, doc, decorator=decorator, fields=fields)


def _struct_field(f: Field, imports: Imports) -> FieldView:
    """``name: T = default``, or ``msgspec.field(...)`` for a factory or a wire name."""
    annotation = imports.type(f.type)
    default = imports.default(f.default)
    keywords = _default_keywords(f, default)
    if f.wire_name != f.name:
        keywords.append(f"name={literal(f.wire_name)}")
    if f.wire_name == f.name and not _is_factory(f):
        return FieldView(f.name, annotation, default)
    return FieldView(f.name, annotation, _call(imports.qualified("msgspec", "field"), keywords))


def _dataclass_field(f: Field, imports: Imports, *, per_field_kw: bool) -> FieldView:
    """``name: T = default``, or ``dataclasses.field(...)`` for what a plain default lacks."""
    annotation = imports.type(f.type)
    default = imports.default(f.default)
    extra = ["init=False"] if not f.init else []
    extra += ["kw_only=True"] if f.kw_only and per_field_kw else []
    if not extra and not _is_factory(f):
        return FieldView(f.name, annotation, default)
    keywords = _default_keywords(f, default) + extra
    return FieldView(f.name, annotation, _call(imports.qualified("dataclasses", "field"), keywords))


def _plain_field(f: Field, imports: Imports) -> FieldView:
    """A TypedDict key (``NotRequired`` when optional) or a NamedTuple field."""
    annotation = imports.type(f.type)
    if not f.required and f.default is None:
        annotation = f"{imports.qualified('typing', 'NotRequired')}[{annotation}]"
    return FieldView(f.name, annotation, imports.default(f.default))


def _default_keywords(f: Field, default: str | None) -> list[str]:
    if default is None:
        return []
    return [f"default_factory={default}" if _is_factory(f) else f"default={default}"]


def _is_factory(f: Field) -> bool:
    return f.default is not None and f.default.kind == "factory"


def _call(function: str, keywords: list[str]) -> str:
    return f"{function}({', '.join(keywords)})"
