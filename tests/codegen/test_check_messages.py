"""What `taskgen check` says names the real cause: the tag, the base class, who rejects, `name=`."""

from __future__ import annotations

from pathlib import Path

from taskgen_codegen.check.compat import Finding, breaks_by_task, compare
from taskgen_codegen.check.locate import locate, model_locations
from taskgen_codegen.check.lock import lock_of
from taskgen_codegen.check.rules import NEW_TO_OLD
from taskgen_codegen.contract import load_contracts
from taskgen_codegen.contract.model import ContractModel

HEAD = "import enum\n\nimport msgspec\n\nfrom taskgen import task\n\n\n"


def load(root: Path, body: str) -> ContractModel:
    folder = root / "contracts"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "jobs.py").write_text(HEAD + body)
    return load_contracts(folder)


def findings(tmp_path: Path, before: str, after: str) -> list[Finding]:
    return compare(lock_of(load(tmp_path / "old", before)), lock_of(load(tmp_path / "new", after)))


def said(found: list[Finding]) -> list[str]:
    return [f"{f.rule.id} {f.subject}: {f.reason}" for f in found]


PETS = """
class Cat(msgspec.Struct, tag="{tag}"):
    name: str


class Dog(msgspec.Struct, tag="dog"):
    name: str


@task
def adopt(pet: Cat | Dog) -> bool: ...
"""


def test_a_changed_tag_is_reported_as_the_tag(tmp_path: Path) -> None:
    found = findings(tmp_path, PETS.format(tag="cat"), PETS.format(tag="kitty"))
    assert said(found) == [
        "WIRE_STRUCT_OPTION_CHANGED type Cat: tag changed from type='cat' to type='kitty': "
        "the tag decides which option of a union a message decodes as"
    ]


KINDS = """
class Kind(enum.Enum):
    ICMP = "icmp"{more}


@task
def probe(host: str) -> Kind: ...
"""


def test_a_new_value_in_a_result_is_rejected_by_old_clients(tmp_path: Path) -> None:
    found = findings(tmp_path, KINDS.format(more=""), KINDS.format(more='\n    TCP = "tcp"'))
    assert said(found) == [
        "WIRE_ENUM_VALUE_ADDED type Kind: member TCP = 'tcp' added: old clients reject it; "
        "deploy the clients first, then the workers"
    ]
    assert found[0].position == "result"


INHERITED = """
class Base(msgspec.Struct):
    host: str
    port: {port}


class Probe(Base):
    ttl: int = 64


@task
def ping(probe: Probe) -> bool: ...
"""


def test_a_changed_inherited_field_names_and_points_at_its_base(tmp_path: Path) -> None:
    new = load(tmp_path / "new", INHERITED.format(port="str"))
    found = compare(lock_of(load(tmp_path / "old", INHERITED.format(port="int"))), lock_of(new))
    assert [f.subject for f in found] == ["type Probe, field port (declared in Base)"]
    where = locate(found[0], model_locations(new))
    assert where is not None
    line = (HEAD + INHERITED).splitlines().index("    port: {port}") + 1
    assert where.line == line


RENAMED = """
class Probe(msgspec.Struct):
    {field}: str


@task
def ping(probe: Probe) -> bool: ...
"""


def test_a_rename_without_a_pin_suggests_name(tmp_path: Path) -> None:
    found = findings(tmp_path, RENAMED.format(field="host"), RENAMED.format(field="hostname"))
    added = [f for f in found if f.rule.id == "WIRE_FIELD_ADDED_REQUIRED"]
    assert len(added) == 1
    assert "`hostname: str = msgspec.field(name='host')`" in added[0].reason


SHARED = """
class Kind(enum.Enum):
    ICMP = "icmp"{more}


@task
def ping(host: str, kind: Kind) -> bool: ...


@task
def trace(host: str) -> list[str]: ...
"""


def test_breaks_by_task_attribute_type_changes_to_the_tasks_that_reach_them(
    tmp_path: Path,
) -> None:
    old = lock_of(load(tmp_path / "old", SHARED.format(more="")))
    new = lock_of(load(tmp_path / "new", SHARED.format(more='\n    TCP = "tcp"')))
    by_task = breaks_by_task(old, new, compare(old, new))
    assert by_task == {"jobs.ping": {(NEW_TO_OLD, "args")}, "jobs.trace": frozenset()}
