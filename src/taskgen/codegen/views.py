"""What the templates see: the contract model with every spelling and name already decided."""

from __future__ import annotations

from dataclasses import dataclass, field

from taskgen.codegen.names import (
    args_class,
    attribute,
    docstring,
    pascal,
    task_class,
    task_constant,
)
from taskgen.contract.model import (
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
    refs_of,
)


@dataclass
class Imports:
    """Modules and model names one generated file needs, collected while views are built."""

    modules: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    def type(self, expr: TypeExpr) -> str:
        """Note what ``expr`` needs and return its spelling."""
        self.modules |= expr.imports()
        self.names |= refs_of(expr)
        return expr.spell()

    def default(self, default: Default | None) -> str | None:
        """Note what a default needs and return its spelling."""
        if default is None:
            return None
        self.names.update(default.refs)
        self.modules.update(default.modules)
        return default.source

    def merge(self, other: Imports) -> None:
        self.modules |= other.modules
        self.names |= other.names


@dataclass(frozen=True)
class ParamView:
    """One task parameter, spelled."""

    name: str
    kind: str
    annotation: str
    default: str | None

    def declaration(self, *, with_default: bool) -> str:
        text = f"{self.name}: {self.annotation}"
        return f"{text} = {self.default}" if with_default and self.default is not None else text


@dataclass(frozen=True)
class TaskView:
    """One task, with the names of everything generated for it."""

    spec: TaskSpec
    params: list[ParamView]
    returns: str
    result_value: str

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
    def handler_module(self) -> str:
        """The handler's module under the worker's ``handlers`` package."""
        return f"{self.spec.module}.{self.spec.name}"

    @property
    def handler_alias(self) -> str:
        """The name under which the bindings module imports the handler's module."""
        return f"_{self.spec.module.replace('.', '_')}_{self.spec.name}"

    @property
    def adapter(self) -> str:
        """The bindings function that unpacks the arguments into the handler."""
        return f"_run{self.handler_alias}"

    @property
    def retry(self) -> str:
        """The task's retry policy, spelled for the generated TaskDef."""
        r = self.spec.options.retry
        return (
            f"runtime.Retry(attempts={r.attempts}, backoff={r.backoff!r}, "
            f"max_delay={r.max_delay!r}, jitter={r.jitter})"
        )

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


def task_view(spec: TaskSpec, imports: Imports) -> TaskView:
    """The view of one task; records what its spellings need in ``imports``."""
    params = [_param(p, imports) for p in spec.params]
    returns = imports.type(spec.returns)
    return TaskView(spec, params, returns, returns)


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


@dataclass(frozen=True)
class FieldView:
    """One field of a generated model class: ``name: annotation = value``."""

    name: str
    annotation: str
    value: str | None = None


@dataclass(frozen=True)
class DefinitionView:
    """One generated model class (or NewType), ready to print."""

    kind: str
    name: str
    doc: str
    bases: list[str] = field(default_factory=list)
    decorator: str = ""
    fields: list[FieldView] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    base_type: str = ""


def definition_view(definition: Definition, imports: Imports) -> DefinitionView:
    """The view of one definition; records what it needs in ``imports``."""
    doc = docstring(definition.doc, f"{definition.name}, as the contract declares it.")
    if isinstance(definition, EnumDef):
        imports.modules.add("enum")
        members = [f"{m.name} = {literal(m.value)}" for m in definition.members]
        return DefinitionView(
            "enum", definition.name, doc, bases=[f"enum.{definition.kind}"], members=members
        )
    if isinstance(definition, NewTypeDef):
        imports.modules.add("typing")
        return DefinitionView(
            "newtype", definition.name, doc, base_type=imports.type(definition.base)
        )
    if isinstance(definition, StructDef):
        imports.modules.add("msgspec")
        fields = [_field_line(f, imports, "struct") for f in definition.fields]
        all_kw = bool(definition.fields) and all(f.kw_only for f in definition.fields)
        options = definition.options() + (["kw_only=True"] if all_kw else [])
        return DefinitionView(
            "struct", definition.name, doc, bases=["msgspec.Struct", *options], fields=fields
        )
    if isinstance(definition, DataclassDef):
        imports.modules.add("dataclasses")
        fields = [_field_line(f, imports, "dataclass") for f in definition.fields]
        decorator = "@dataclasses.dataclass" + ("(frozen=True)" if definition.frozen else "")
        return DefinitionView("dataclass", definition.name, doc, decorator=decorator, fields=fields)
    assert isinstance(definition, TypedDictDef)
    imports.modules.add("typing")
    fields = [_field_line(f, imports, "typeddict") for f in definition.fields]
    return DefinitionView(
        "typeddict", definition.name, doc, bases=["typing.TypedDict"], fields=fields
    )


def _field_line(f: Field, imports: Imports, style: str) -> FieldView:
    annotation = imports.type(f.type)
    if style == "typeddict":
        if not f.required:
            annotation = f"typing.NotRequired[{annotation}]"
        return FieldView(f.name, annotation)
    default = imports.default(f.default)
    helper = "msgspec.field" if style == "struct" else "dataclasses.field"
    keywords: list[str] = []
    if f.default is not None and f.default.kind == "factory":
        keywords.append(f"default_factory={default}")
    elif default is not None and f.wire_name != f.name:
        keywords.append(f"default={default}")
    if style == "struct" and f.wire_name != f.name:
        keywords.append(f"name={literal(f.wire_name)}")
    if keywords:
        return FieldView(f.name, annotation, f"{helper}({', '.join(keywords)})")
    return FieldView(f.name, annotation, default)
