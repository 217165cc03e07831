"""`taskgen check` as CI runs it: exit codes, file:line, the three formats, and `--against`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

CONTRACT = """\
import enum

import msgspec

from taskgen import task


class Kind(enum.Enum):
    ICMP = "icmp"


class Probe(msgspec.Struct, omit_defaults=True):
    host: str
    port: int = 80


@task(queue="network")
def ping(probe: Probe, kind: Kind) -> bool: ...


@task(queue="network")
def trace(host: str) -> list[str]: ...
"""

PYPROJECT = """\
[tool.taskgen]
contracts = "contracts"
client-package = "jobs_client"
client-out = "out/jobs_client"
worker-out = "out/worker"
"""


@dataclass(frozen=True)
class Run:
    """One finished ``taskgen`` command."""

    code: int
    out: str
    err: str


class Project:
    """A project folder with one contract module, contracts/jobs.py."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "contracts").mkdir(parents=True)
        (root / "contracts" / "__init__.py").write_text("")
        (root / "pyproject.toml").write_text(PYPROJECT)
        self.write(CONTRACT)

    @property
    def contract(self) -> Path:
        return self.root / "contracts" / "jobs.py"

    @property
    def lock(self) -> Path:
        return self.root / "contracts" / "taskgen.lock"

    def write(self, source: str) -> None:
        self.contract.write_text(source)

    def edit(self, old: str, new: str) -> None:
        source = self.contract.read_text()
        assert source.count(old) == 1, old
        self.write(source.replace(old, new))

    def line(self, text: str) -> int:
        """The line of contracts/jobs.py that contains ``text``."""
        lines = self.contract.read_text().splitlines()
        return next(n for n, line in enumerate(lines, start=1) if text in line)

    def taskgen(self, *args: str) -> Run:
        done = subprocess.run(
            [sys.executable, "-m", "taskgen", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            # No repository above the project is taken for its own.
            env={**os.environ, "GIT_CEILING_DIRECTORIES": str(self.root.parent)},
            timeout=60,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def built(self) -> Project:
        run = self.taskgen("build")
        assert run.code == 0, run.err
        return self

    def git(self, *args: str) -> str:
        done = subprocess.run(
            [
                "git",
                "-c",
                "user.email=t@t",
                "-c",
                "user.name=t",
                "-c",
                "commit.gpgsign=false",
                *args,
            ],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def committed(self) -> Project:
        """The project as a git repository whose HEAD holds it as it is."""
        if not (self.root / ".git").exists():
            self.git("init", "--quiet")
        self.git("add", "-A")
        self.git("commit", "--quiet", "-m", "contracts")
        return self


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "project")


# -- the lock file --------------------------------------------------------------------------


def test_build_writes_the_same_lock_bytes_every_time_and_everywhere(tmp_path: Path) -> None:
    first = Project(tmp_path / "first").built()
    written = first.lock.read_bytes()
    first.built()
    assert first.lock.read_bytes() == written
    elsewhere = Project(tmp_path / "somewhere" / "else").built()
    assert elsewhere.lock.read_bytes() == written
    assert str(tmp_path).encode() not in written
    assert b'"jobs.ping"' in written


def test_build_warns_when_the_lock_it_rewrites_records_a_breaking_change(
    project: Project,
) -> None:
    project.built()
    project.edit("    port: int = 80\n", "    port: int\n")
    run = project.taskgen("build")
    assert run.code == 0
    assert "records 1 change(s) on the wire that old clients or workers may not survive" in run.err
    assert "breaking WIRE_FIELD_REQUIRED type Probe, field port" in run.err
    quiet = project.taskgen("build")
    assert "may not survive" not in quiet.err


def test_build_tells_a_change_to_code_from_a_change_on_the_wire(project: Project) -> None:
    project.built()
    project.edit("omit_defaults=True", "omit_defaults=False")  # no wire effect by itself
    project.taskgen("build")
    project.edit("    port: int = 80\n", "    port: int\n")  # every message carries it anyway
    run = project.taskgen("build")
    assert "may not survive" not in run.err
    assert "records 1 change(s) that break code written against the old client" in run.err
    assert "breaking SOURCE_FIELD_REQUIRED type Probe, field port" in run.err


def test_explain_prints_the_rule_its_directions_an_example_and_the_remedy(
    project: Project,
) -> None:
    run = project.taskgen("check", "--explain", "wire_field_optional")
    assert run.code == 0
    assert run.out.startswith("WIRE_FIELD_OPTIONAL (WIRE, warning)\n")
    assert "  new-to-old: " in run.out
    assert "Before:\n    class Probe(typing.TypedDict):" in run.out
    assert "Order: in a parameter, deploy the workers first, then the clients;" in run.out
    unknown = project.taskgen("check", "--explain", "WIRE_NOPE")
    assert unknown.code == 2
    assert "no rule 'WIRE_NOPE'; the rules are: WIRE_TASK_ADDED," in unknown.err


def test_build_stays_quiet_about_a_compatible_change(project: Project) -> None:
    project.built()
    project.edit("    port: int = 80\n", "    port: int = 80\n    ttl: int = 64\n")
    run = project.taskgen("build")
    assert run.code == 0
    assert "may not survive" not in run.err


# -- exit codes and places --------------------------------------------------------------------


def test_an_unchanged_contract_passes(project: Project) -> None:
    run = project.built().taskgen("check")
    assert run.code == 0, run.out + run.err
    assert run.out == "taskgen check: no changes against contracts/taskgen.lock\n"


def test_a_breaking_change_fails_with_its_rule_and_line(project: Project) -> None:
    project.built()
    project.edit("    port: int = 80\n", "    port: int\n")
    run = project.taskgen("check")
    assert run.code == 1
    line = project.line("port: int")
    assert f"contracts/jobs.py:{line}: breaking WIRE_FIELD_REQUIRED type Probe, field port" in (
        run.out
    )
    assert "1 breaking, 0 warning, 0 compatible against contracts/taskgen.lock" in run.out


def test_a_removed_task_points_at_its_entry_in_the_lock(project: Project) -> None:
    project.built()
    project.write(CONTRACT[: CONTRACT.index('\n\n@task(queue="network")\ndef trace')] + "\n")
    run = project.taskgen("check")
    assert run.code == 1
    lines = project.lock.read_text().splitlines()
    entry = next(n for n, line in enumerate(lines, start=1) if line == '    "jobs.trace": {')
    assert f"contracts/taskgen.lock:{entry}: breaking WIRE_TASK_REMOVED task jobs.trace" in run.out


def test_warnings_pass_unless_fail_on_warning(project: Project) -> None:
    project.built()
    project.edit('    ICMP = "icmp"\n', '    ICMP = "icmp"\n    TCP = "tcp"\n')
    run = project.taskgen("check")
    assert run.code == 0
    line = project.line("class Kind")
    assert f"contracts/jobs.py:{line}: warning WIRE_ENUM_VALUE_ADDED type Kind" in run.out
    assert project.taskgen("check", "--fail-on", "warning").code == 1


def test_compatible_changes_pass_even_with_fail_on_warning(project: Project) -> None:
    project.built()
    project.edit("    port: int = 80\n", "    port: int = 80\n    ttl: int = 64\n")
    run = project.taskgen("check", "--fail-on", "warning")
    assert run.code == 0
    assert f"contracts/jobs.py:{project.line('ttl')}: compatible WIRE_FIELD_ADDED" in run.out


def test_a_missing_lock_exits_2_and_says_to_build(project: Project) -> None:
    run = project.taskgen("check")
    assert run.code == 2
    assert "taskgen check: cannot check" in run.err
    assert "no lock file at contracts/taskgen.lock: run `taskgen build`" in run.err
    assert run.out == ""


def test_a_contract_that_fails_to_import_exits_2_with_its_place(project: Project) -> None:
    project.built()
    project.edit("import msgspec\n", "import msgspec\nfrom contracts.missing import Thing\n")
    run = project.taskgen("check")
    assert run.code == 2
    assert "taskgen check: cannot check" in run.err
    assert f"contracts/jobs.py:{project.line('contracts.missing')}" in run.err
    assert "ModuleNotFoundError" in run.err


def test_an_unreadable_lock_exits_2(project: Project) -> None:
    project.built()
    project.lock.write_text("{not json")
    run = project.taskgen("check")
    assert run.code == 2
    assert "contracts/taskgen.lock:1: not a taskgen lock file" in run.err


@pytest.mark.parametrize(
    "args", [("--format", "xml"), ("--fail-on", "compatible")], ids=["format", "fail-on"]
)
def test_an_unknown_option_value_exits_2(project: Project, args: tuple[str, str]) -> None:
    run = project.built().taskgen("check", *args)
    assert run.code == 2
    assert "--format is text, github or json; --fail-on is breaking or warning" in run.err


# -- formats ----------------------------------------------------------------------------------


def test_github_format_prints_one_annotation_per_finding(project: Project) -> None:
    project.built()
    project.edit("    port: int = 80\n", "    port: int\n")
    project.edit('    ICMP = "icmp"\n', '    ICMP = "icmp"\n    TCP = "tcp"\n')
    run = project.taskgen("check", "--format", "github")
    assert run.code == 1
    annotations = [line for line in run.out.splitlines() if line.startswith("::")]
    assert annotations == [
        f"::error file=contracts/jobs.py,line={project.line('port: int')},"
        "title=WIRE_FIELD_REQUIRED::type Probe, field port: now required, but the old side "
        "leaves it out of messages: they no longer decode",
        f"::warning file=contracts/jobs.py,line={project.line('class Kind')},"
        "title=WIRE_ENUM_VALUE_ADDED::type Kind: member TCP = 'tcp' added: old workers reject "
        "it; deploy the workers first, then the clients",
    ]


def test_json_format_lists_the_findings(project: Project) -> None:
    project.built()
    project.edit("    port: int = 80\n", "    port: int\n")
    run = project.taskgen("check", "--format", "json")
    assert run.code == 1
    document = json.loads(run.out)
    assert document["against"] == "contracts/taskgen.lock"
    assert document["accepted"] is False
    assert document["counts"] == {"breaking": 1, "warning": 0, "compatible": 0}
    assert document["findings"] == [
        {
            "rule": "WIRE_FIELD_REQUIRED",
            "family": "WIRE",
            "severity": "breaking",
            "breaks": ["old-to-new", "source"],
            "position": "args",
            "subject": "type Probe, field port",
            "reason": "now required, but the old side leaves it out of messages: they no longer "
            "decode",
            "file": "contracts/jobs.py",
            "line": project.line("port: int"),
        }
    ]


# -- against a git ref ------------------------------------------------------------------------


def test_against_a_ref_reports_the_change_in_the_current_file(project: Project) -> None:
    project.built().committed()
    project.edit("def ping(probe: Probe, kind: Kind)", "def ping(probe: Probe, kind: Kind, n: int)")
    run = project.taskgen("check", "--against", "HEAD")
    assert run.code == 1
    assert (
        f"contracts/jobs.py:{project.line('def ping')}: breaking WIRE_PARAM_ADDED_REQUIRED "
        "task jobs.ping, parameter n"
    ) in run.out
    assert "against contracts/ at HEAD" in run.out
    assert "accepted" not in run.out


def test_against_a_ref_points_at_what_is_gone_in_the_file_at_that_ref(project: Project) -> None:
    project.built().committed()
    old_line = project.line("def trace")
    project.write(CONTRACT[: CONTRACT.index('\n\n@task(queue="network")\ndef trace')] + "\n")
    run = project.taskgen("check", "--against", "HEAD", "--format", "github")
    assert run.code == 1
    assert (
        f"::error file=contracts/jobs.py@HEAD,line={old_line},title=WIRE_TASK_REMOVED::" in run.out
    )


def test_a_rebuilt_lock_in_the_same_change_accepts_the_break(project: Project) -> None:
    project.built().committed()
    project.edit("    port: int = 80\n", "    port: int\n")
    assert project.taskgen("check", "--against", "HEAD").code == 1
    build = project.taskgen("build")
    assert "breaking WIRE_FIELD_REQUIRED" in build.err
    run = project.taskgen("check", "--against", "HEAD")
    assert run.code == 0, run.out + run.err
    assert "breaking WIRE_FIELD_REQUIRED type Probe, field port" in run.out
    assert "accepted: the lock file in this change records them" in run.out
    assert json.loads(project.taskgen("check", "--against", "HEAD", "--format", "json").out)[
        "accepted"
    ]
    # Against the lock file itself, the accepted contract has nothing left to report.
    assert project.taskgen("check").code == 0


def test_a_stale_lock_does_not_accept_a_break(project: Project) -> None:
    project.built().committed()
    project.edit("    port: int = 80\n", "    port: int\n")
    project.built()
    project.edit("    host: str\n", "    host: bytes\n")
    run = project.taskgen("check", "--against", "HEAD")
    assert run.code == 1
    assert "accepted" not in run.out


def test_an_unknown_ref_exits_2_with_gits_message(project: Project) -> None:
    project.built().committed()
    run = project.taskgen("check", "--against", "no-such-ref")
    assert run.code == 2
    assert "taskgen check: cannot check" in run.err
    assert "git archive" in run.err


def test_against_outside_a_git_repository_exits_2(project: Project) -> None:
    project.built()
    run = project.taskgen("check", "--against", "HEAD")
    assert run.code == 2
    assert "taskgen check: cannot check" in run.err
