"""``taskgen check`` treats the TypeScript client like the Python one: every evolution fixture
pair's change is compiled, and what breaks TypeScript code written against the old package is
what the check calls breaking for code (the SOURCE direction).

For each pair, the old and the new contract each get their npm package, and a caller generated
from the old contract uses the new package as code written against the old one would: it
passes every task's old arguments object (no missing, wrong or extra property), builds every old
input record and reads every old result type from the new ones, names every old Enum member and
every old task method. One ``tsc --strict`` run compiles all pairs; a pair breaks TypeScript
when its caller has an error. Then:

- a change that breaks the TypeScript caller is reported by the check (breaking, or a warning:
  a result that may now be None breaks a typed reader in either language, and the check warns
  of it as a wire change), and
- every SOURCE finding that concerns code by name (not Python's positions, parameter kinds or
  Struct options, see ``PYTHON_ONLY``) breaks the TypeScript caller.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from taskgen_codegen.check.compat import Finding, compare
from taskgen_codegen.check.lock import lock_of
from taskgen_codegen.check.rules import SOURCE
from taskgen_codegen.contract import ContractError, ContractModel
from taskgen_codegen.contract.model import EnumDef, TypeExpr, definition_refs, refs_of
from taskgen_codegen.generate import BuildConfig
from taskgen_codegen.generate.names import attribute, pascal
from taskgen_codegen.generate.writer import apply
from taskgen_codegen.typescript.package import typescript_files
from tests.agreement import iter_pairs
from tests.codegen.test_evolution import FIXTURES, load
from tests.typescript.node import node_modules, tsc

#: SOURCE rules about how Python calls and constructs, which a TypeScript caller (arguments and
#: records by name, all readonly) never meets: a reordered or re-kinded parameter or field, a
#: Struct's frozen/order/eq, and a changed default (it changes a value, not what compiles); and
#: the typed progress reports a Python handle reads, which the TypeScript client does not offer.
PYTHON_ONLY = {
    "SOURCE_PARAM_KIND_CHANGED",
    "SOURCE_PARAM_MOVED",
    "SOURCE_FIELD_MOVED",
    "SOURCE_STRUCT_OPTION_CHANGED",
    "SOURCE_DEFAULT_CHANGED",
    "SOURCE_PROGRESS_TYPE_ADDED",
    "SOURCE_PROGRESS_TYPE_REMOVED",
}

CALLER_HEAD = """\
// Code written against the old package, compiled against the new one.
import type * as Old from "./old/src/index.js";
import * as New from "./new/src/index.js";

type Extra<A, B> = [Exclude<keyof A, keyof B>] extends [never] ? true : false;
type Fits<A, B> = [A] extends [B] ? Extra<A, B> : false;
type Reads<A, B> = [A] extends [B] ? true : false;
declare const tasks: New.JobsClient;
"""


def caller(model: ContractModel) -> str:
    """The TypeScript that uses the new package as code written against ``model`` would."""
    lines = [CALLER_HEAD]
    inputs = _reached(model, [p.type for t in model.tasks for p in t.params])
    outputs = _reached(model, [t.returns for t in model.tasks])
    for task in model.tasks:
        args, result = (
            pascal(task.module, task.name, "args"),
            pascal(task.module, task.name, "result"),
        )
        lines.append(f"void tasks.{attribute(task.module)}.{task.name};")
        lines.append(f"export const {args}: Fits<Old.{args}, New.{args}> = true;")
        lines.append(f"export const {result}: Reads<New.{result}, Old.{result}> = true;")
    for d in model.definitions:
        if isinstance(d, EnumDef):
            lines += [f"void New.{d.name}.{m.name};" for m in d.members]
        if d.name in inputs:
            lines.append(f"export const in{d.name}: Fits<Old.{d.name}, New.{d.name}> = true;")
        if d.name in outputs:
            lines.append(f"export const out{d.name}: Reads<New.{d.name}, Old.{d.name}> = true;")
    return "\n".join(lines) + "\n"


def _reached(model: ContractModel, roots: list[TypeExpr]) -> set[str]:
    names: set[str] = set()
    todo: set[str] = set()
    for root in roots:
        todo |= refs_of(root)
    while todo:
        name = todo.pop()
        if name not in names:
            names.add(name)
            todo |= definition_refs(model.definition(name))
    return names


def package(root: Path, model: ContractModel, contracts: Path) -> None:
    """The npm package of a loaded contract, at ``root`` (its sources only)."""
    config = BuildConfig(
        contracts=str(contracts),
        client_package="jobs_client",
        worker_out=None,
        ts_out=str(root),
        root="/",
    )
    apply(typescript_files(model, config))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[Finding]], str]:
    """Every pair's findings, and tsc's output over all the pairs' callers."""
    project = tmp_path_factory.mktemp("check_ts")
    findings: dict[str, list[Finding]] = {}
    for case, before, after in iter_pairs(FIXTURES):
        folder = project / case
        # Each package is made while its contract is the one imported (the generator reads
        # the live modules). A flow-controlled contract is refused by the generator
        # (test_names.py shows it), so its pair is left out.
        old = load(project / "_contracts" / case, before)
        if _refused(folder / "old", old, project / "_contracts" / case / "before"):
            continue
        package(folder / "old", old, project / "_contracts" / case / "before" / "contracts")
        new = load(project / "_contracts" / case, after)
        if _refused(folder / "new", new, project / "_contracts" / case / "after"):
            shutil.rmtree(folder)
            continue
        package(folder / "new", new, project / "_contracts" / case / "after" / "contracts")
        findings[case] = compare(lock_of(old), lock_of(new))
        (folder / "caller.ts").write_text(caller(old))
    shutil.rmtree(project / "_contracts")
    _share_runtime(project)
    (project / "node_modules").symlink_to(node_modules(), target_is_directory=True)
    config = {
        "compilerOptions": {
            "target": "ES2022",
            "lib": ["ES2022"],
            "module": "NodeNext",
            "moduleResolution": "NodeNext",
            "strict": True,
            "noEmit": True,
            "types": ["node"],
        },
        "include": ["*/caller.ts"],
    }
    (project / "tsconfig.json").write_text(json.dumps(config))
    (project / "package.json").write_text('{"type": "module"}')
    done = tsc(project, "--pretty", "false")
    return findings, done.stdout


def _refused(root: Path, model: ContractModel, side: Path) -> bool:
    """Whether the contract is flow-controlled, and the generator refused it as it must."""
    if not any(task.flow_keys for task in model.tasks):
        return False
    with pytest.raises(ContractError, match="TypeScript client does not enforce"):
        package(root, model, side / "contracts")
    return True


def _share_runtime(project: Path) -> None:
    """One copy of the runtime for all the packages (it does not depend on the contract), so
    tsc reads it once rather than 78 times."""
    packages = sorted(project.glob("*/*/src"))
    shared = project / "runtime"
    shutil.copytree(packages[0] / "runtime", shared)
    for src in packages:
        shutil.rmtree(src / "runtime")
        (src / "runtime").symlink_to(shared, target_is_directory=True)


def _broken(output: str) -> dict[str, list[str]]:
    """Pair name -> the tsc errors in its caller."""
    found: dict[str, list[str]] = {}
    for line in output.splitlines():
        match = re.match(r"(?:.*/)?([a-z_]+)/caller\.ts\(\d+,\d+\): (error .*)", line)
        if match:
            found.setdefault(match[1], []).append(match[2])
        elif "error" in line:
            raise AssertionError(f"tsc failed outside the callers: {line}")
    return found


CASES = [name for name, _, _ in iter_pairs(FIXTURES)]


@pytest.mark.parametrize("case", CASES)
def test_typescript_breaks_exactly_where_check_says_code_breaks(
    compiled: tuple[dict[str, list[Finding]], str], case: str
) -> None:
    findings, output = compiled
    if case not in findings:
        return  # a flow-controlled contract: the fixture saw the generator refuse it
    errors = _broken(output).get(case, [])
    said = sorted(
        f.rule.id for f in findings[case] if SOURCE in f.directions and f.rule.id not in PYTHON_ONLY
    )
    reported = sorted(f.rule.id for f in findings[case] if f.severity != "compatible")
    if errors:
        assert reported, (
            f"{case}: TypeScript callers break, but taskgen check reports nothing:\n"
            + "\n".join(errors)
        )
    else:
        assert not said, f"{case}: taskgen check says {said} break code, but TypeScript compiles"
