"""Names in generated code: every clash is refused at build time with a clear message, and
every build that is not refused type-checks under ``mypy --strict`` and imports.

Hypothesis writes contracts whose module, task, type, parameter and package names come from a
pool built to collide: Python keywords and builtins, names differing only by ``_sync``, module
names equal to the client package's stem, type names equal to generated class names, and
names the generated code imports (``Client``, ``TaskHandle``, ``runtime``, ``msgspec``…).
"""

from __future__ import annotations

import importlib
import inspect
import keyword
import os
import re
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from taskgen_codegen.contract import ContractError
from taskgen_codegen.generate import BuildConfig, build
from taskgen_codegen.generate.names import pascal
from tests.support import REPO

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def write_contract(folder: Path, modules: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    for name, source in modules.items():
        path = folder.joinpath(*name.split(".")).with_suffix(".py")
        for parent in path.relative_to(folder).parents:
            (folder / parent).mkdir(exist_ok=True)
            (folder / parent / "__init__.py").touch()
        path.write_text(source)
    return folder


def build_in(root: Path, client_package: str, **options: str | None) -> None:
    config = BuildConfig(
        contracts="contracts",
        client_package=client_package,
        client_out="client",
        worker_out="worker",
        lock="taskgen.lock",
        root=str(root),
        **options,  # type: ignore[arg-type]
    )
    build(config)


PING = """\
from taskgen import task


@task(queue="ev")
def ping(n: int) -> int: ...


@task(queue="ev")
def ping_sync(n: int) -> int: ...
"""


def test_a_module_class_named_like_the_client_class_is_refused(tmp_path: Path) -> None:
    write_contract(tmp_path / "contracts", {"kv": PING.replace("ping_sync", "other")})
    with pytest.raises(ContractError) as refused:
        build_in(tmp_path, "kv_tasks")
    message = str(refused.value)
    assert re.search(r"contracts/kv\.py:\d+: error: ", message), message
    assert "the class of contract module 'kv'" in message and "the client class" in message
    assert "'KvTasks'" in message and "set client-class in [tool.taskgen]" in message
    assert not (tmp_path / "client").exists()


def test_a_task_named_like_another_tasks_blocking_twin_is_refused(tmp_path: Path) -> None:
    write_contract(tmp_path / "contracts", {"ev": PING})
    with pytest.raises(ContractError) as refused:
        build_in(tmp_path, "ev_client")
    message = str(refused.value)
    assert "task ev.ping" in message and "task ev.ping_sync" in message
    assert "'EvPingSync'" in message and "rename the task" in message
    assert re.search(r"contracts/ev\.py:\d+: error: ", message), message


def test_a_task_named_like_another_tasks_progress_constant_is_refused(tmp_path: Path) -> None:
    source = PING.replace(
        '@task(queue="ev")\ndef ping(', '@task(queue="ev", progress=int)\ndef ping('
    )
    write_contract(tmp_path / "contracts", {"ev": source.replace("ping_sync", "ping_progress")})
    with pytest.raises(ContractError) as refused:
        build_in(tmp_path, "ev_client")
    message = str(refused.value)
    assert "task ev.ping" in message and "task ev.ping_progress" in message
    assert "'EV_PING_PROGRESS'" in message and "rename the task" in message
    assert re.search(r"contracts/ev\.py:\d+: error: ", message), message


# -- handler stubs keep the contract's defaults --------------------------------------------


@pytest.mark.parametrize(
    ("worker", "client", "contracts"),
    [("worker", "shop_tasks", "contracts"), ("every_worker", "every_client", "every_type")],
)
def test_handler_stubs_declare_the_contracts_defaults(
    tmp_path: Path, worker: str, client: str, contracts: str
) -> None:
    source = REPO if contracts == "contracts" else FIXTURES
    golden = tmp_path
    build(
        BuildConfig(
            contracts=str(source / contracts),
            client_package=client,
            client_out=client,
            worker_out=worker,
            lock="taskgen.lock",
            root=str(tmp_path),
        )
    )
    paths = [str(golden), str(golden / client), str(source)]
    sys.path[:0] = paths
    _forget(worker, client, contracts)
    try:
        checked = 0
        for stub in sorted((golden / worker / "handlers").rglob("*.py")):
            if stub.name == "__init__.py":
                continue
            module = stub.relative_to(golden / worker / "handlers").with_suffix("").parts
            handler = getattr(
                importlib.import_module(".".join((worker, "handlers", *module))), module[-1]
            )
            declared = getattr(
                importlib.import_module(".".join((contracts, *module[:-1]))), module[-1]
            )
            wanted = {n: _value(p) for n, p in inspect.signature(declared).parameters.items()}
            got = {
                n: _value(p) for n, p in inspect.signature(handler).parameters.items() if n != "ctx"
            }
            assert got == wanted, stub
            checked += any(d != b"required" for d in wanted.values())
        assert checked >= 2
    finally:
        for path in paths:
            sys.path.remove(path)
        _forget(worker, client, contracts)


def _value(param: inspect.Parameter) -> bytes:
    """A default as data: the contract's classes and the client's twins compare equal."""
    if param.default is inspect.Parameter.empty:
        return b"required"
    return msgspec.msgpack.encode(param.default, order="deterministic")


def _forget(*packages: str) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] in packages]:
        del sys.modules[name]


# -- the property: refused clearly, or clean and importable ---------------------------------

#: Names chosen to collide with each other and with what the generated code uses.
POOL = [
    "kv",
    "ev",
    "ping",
    "ping_sync",
    "ping_progress",
    "tasks",
    "kv_tasks",
    "client",
    "runtime",
    "msgspec",
    "typing",
    "bindings",
    "handlers",
    "list",
    "int",
    "str",
    "type",
    "id",
    "sum",
    "class",
    "None",
    "async",
    "match",
    "args",
    "extras",
    "definition",
    "options",
    "call",
    "close",
    "worker",
]
TYPE_POOL = [
    "Client",
    "TaskHandle",
    "Context",
    "ProgressContext",
    "ProgressHandle",
    "EV_PING_PROGRESS",
    "Any",
    "Mapping",
    "Awaitable",
    "EvPing",
    "EvPingArgs",
    "EvPingSync",
    "KvTasks",
    "EV_PING",
    "Item",
    "Order",
    "int",
    "Exception",
]
IDENTS = st.from_regex(r"\A[a-z][a-z0-9]{0,3}(_[a-z0-9]{1,3})?\Z")
#: Module names may be keywords (``class.py`` imports by importlib); Python names may not.
NAMES = st.sampled_from(POOL) | IDENTS
PY_NAMES = st.sampled_from([n for n in POOL if not keyword.iskeyword(n)]) | IDENTS | IDENTS


@st.composite
def contracts(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """A client package name and a contracts folder: module name -> source."""
    modules: dict[str, str] = {}
    dotted = st.tuples(NAMES, NAMES).map(".".join)
    for module in draw(st.lists(NAMES | dotted, min_size=1, max_size=2, unique=True)):
        types = draw(
            st.lists(st.sampled_from(TYPE_POOL) | IDENTS.map(pascal), max_size=3, unique=True)
        )
        types = [t for t in types if t.isidentifier() and t not in ("None",)]
        lines = ["import enum", "import msgspec", "from taskgen import task", ""]
        spelled = ["int", "str", "list[int]"]
        for name in types:
            members = [f for f in draw(st.lists(PY_NAMES, min_size=1, max_size=3, unique=True))]
            members = [m for m in members if m.isidentifier()] or ["x"]
            if draw(st.booleans()):
                lines += [f"class {name}(enum.Enum):"]
                lines += [f"    {m} = {i}" for i, m in enumerate(members, 1)]
            else:
                lines += [f"class {name}(msgspec.Struct):"]
                lines += [f"    {m}: {draw(st.sampled_from(spelled))}" for m in members]
            lines += [""]
            spelled.append(name)
        for name in draw(st.lists(PY_NAMES, min_size=1, max_size=3, unique=True)):
            params = draw(st.lists(PY_NAMES, max_size=3, unique=True))
            signature = []
            for p in params:
                kind = draw(st.sampled_from(spelled))
                default = " = 1" if kind == "int" and draw(st.booleans()) else ""
                signature.append(f"{p}: {kind}{default}")
            # Parameters with defaults go last, as Python requires.
            signature.sort(key=lambda s: " = " in s)
            returns = draw(st.sampled_from(spelled))
            progress = draw(st.none() | st.sampled_from(spelled))
            options = 'queue="q"' + (f", progress={progress}" if progress else "")
            lines += [
                f"@task({options})",
                f"def {name}({', '.join(signature)}) -> {returns}: ...",
                "",
            ]
        modules[module] = "\n".join(lines)
    stems = [m.replace(".", "_") for m in modules]
    package = draw(st.sampled_from([f"{m}_tasks" for m in stems] + stems) | NAMES)
    return package, modules


def _valid_python(modules: dict[str, str]) -> bool:
    try:
        for source in modules.values():
            compile(source, "contract", "exec")
    except SyntaxError:
        return False
    return True


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(contracts())
def test_every_build_is_refused_clearly_or_clean(
    tmp_path_factory: pytest.TempPathFactory, drawn: tuple[str, dict[str, str]]
) -> None:
    package, modules = drawn
    if not _valid_python(modules):
        event("not Python")
        return  # Python itself refuses the contract; nothing for the build to say
    root = tmp_path_factory.mktemp("names")
    write_contract(root / "contracts", modules)
    try:
        build_in(root, package)
    except ContractError as refused:
        event("refused")
        for problem in refused.problems:
            assert problem.hint, problem
            text = str(problem)
            assert problem.location is not None or "client" in text, text
        return
    except ValueError as refused:  # the configuration: a package name Python cannot import
        assert package in str(refused)
        return
    event("built")
    result = check_output(root, package)
    assert result == "", result


def check_output(root: Path, package: str) -> str:
    """mypy --strict and an import of the client and the bindings; '' when both pass."""
    env = {
        **os.environ,
        "MYPYPATH": str(root / "client"),
        "PYTHONPATH": os.pathsep.join([str(root / "client"), str(root)]),
    }
    mypy = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "",
            "--strict",
            "--cache-dir",
            str(REPO / ".mypy_cache" / "names"),
            "-p",
            package,
            "-p",
            "worker",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    if mypy.returncode != 0:
        return mypy.stdout + mypy.stderr
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import {package}; from worker.bindings import bindings; "
            "from taskgen.runtime.binding import check_handlers; "
            "assert not check_handlers(bindings())",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    return "" if imported.returncode == 0 else imported.stderr
