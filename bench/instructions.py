"""``./dev instructions``: the server's instructions per task in taskgen's three hot scripts.

./dev instructions [--tasks 2000] [--scripts DIR ...]

CPU time on a shared machine moves with everything else that runs; the number of instructions
the server executes does not. This starts the test server (``TASKGEN_TEST_SERVER``) under
valgrind's callgrind with instrumentation off, loads the scripts, and switches counting on only
around each phase: ``--tasks`` tasks enqueued by ``enqueue.lua`` (chunks of 1,000, as
``enqueue_many`` sends them), fetched by ``fetch.lua`` and ended by ``complete.lua`` in batches
of 32 (a worker at concurrency 32 under load). Records are packed as the runtime packs them,
with its sizes: 32-character task ids, a 91-byte envelope, a 50-byte outcome, no reply channel.
Everything the server runs for a phase counts: reading the command, the script, the commands
it calls, writing the reply. ``--scripts`` compares other copies of the scripts folder (e.g.
``git show main:...`` extracted) with this tree's, one server each. Needs ``valgrind``.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from taskgen.runtime.keys import GROUP, QueueKeys
from taskgen.runtime.packing import number, pack
from taskgen.runtime.scripts import FLOWED
from tests.redis_server import free_port, server_binary

HERE = Path(__file__).resolve().parent.parent / "runtime/src/taskgen/runtime/scripts"
BATCH = 32
PHASES = ("enqueue", "fetch", "complete")


@contextlib.contextmanager
def counted_server(folder: Path) -> Iterator[tuple[redis.Redis, int]]:
    """A server under callgrind, counting nothing until told; its client and pid."""
    port = free_port()
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
    argv += [f"--callgrind-out-file={folder}/callgrind.out", server_binary()]
    argv += ["--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(folder)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server under valgrind did not start: {argv}") from None
                time.sleep(0.1)
        yield client, process.pid
    finally:
        client.close()
        process.terminate()
        process.wait()


def control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def script_text(scripts: Path, phase: str) -> str:
    """A phase's script as the runtime sends it: after ``flow.lua`` where it uses it (a
    scripts folder from before flow control has none)."""
    text = (scripts / f"{phase}.lua").read_text()
    library = scripts / "flow.lua"
    return library.read_text() + text if phase in FLOWED and library.exists() else text


def measure(scripts: Path, n: int) -> dict[str, float]:
    """Instructions per task of each phase, with the scripts in ``scripts``."""
    keys = QueueKeys("bench")
    ending = [*keys.streams, keys.delayed, keys.dead, keys.retrying, keys.throughput]
    with tempfile.TemporaryDirectory(prefix="taskgen-callgrind-") as name:
        folder = Path(name)
        with counted_server(folder) as (client, pid):
            enqueue, fetch, complete = (
                client.register_script(script_text(scripts, phase)) for phase in PHASES
            )
            for stream in keys.streams:
                client.xgroup_create(stream, GROUP, id="0", mkstream=True)
            ids = [f"{i:032x}".encode() for i in range(n)]
            tasks = [pack([i, b"1", b"0", b"e" * 91, b""]) for i in ids]
            chunks = [b"".join(tasks[i : i + 1000]) for i in range(0, n, 1000)]
            # Loaded and run once before counting starts.
            enqueue(keys=[keys.delayed], args=[keys.base, b""])
            fetch(keys=keys.streams, args=[GROUP, "w", 0])
            complete(keys=ending, args=[keys.base, b"", GROUP, 1000, 1, 1])
            control(pid, "--instr=on")
            control(pid, "--zero")
            for chunk in chunks:
                enqueue(keys=[keys.delayed], args=[keys.base, chunk])
            control(pid, "--dump=enqueue")
            taken: list[tuple[bytes, bytes]] = []
            for _ in range(0, n, BATCH):
                flat = fetch(keys=keys.streams, args=[GROUP, "w", BATCH])
                taken += zip(flat[1::5], flat[2::5], strict=True)
            control(pid, "--dump=fetch")
            for i in range(0, n, BATCH):
                records = b"".join(
                    pack([b"F", b"1", entry, task, b"done", b"o" * 50, number(300_000), b""])
                    for entry, task in taken[i : i + BATCH]
                )
                complete(keys=ending, args=[keys.base, records, GROUP, 1000, 1, 0])
            control(pid, "--dump=complete")
            if len(taken) != n or client.xlen(keys.streams[1]) != 0:
                raise SystemExit("the scripts did not fetch and end every task")
        counts: dict[str, float] = {}
        for dump in folder.glob("callgrind.out.*"):
            text = dump.read_text(errors="replace")
            phase = re.search(r"^desc: Trigger: dump (\w+)", text, re.M)
            total = re.search(r"^summary: (\d+)", text, re.M)
            if phase and total:
                counts[phase.group(1)] = int(total.group(1)) / n
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev instructions", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--scripts", nargs="*", default=[], help="other scripts folders")
    args = parser.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("./dev instructions needs valgrind (apt-get install valgrind)")
    print(f"Server instructions per task ({args.tasks:,} tasks, {server_binary()})")
    print()
    print("| scripts | " + " | ".join(PHASES) + " | all three |")
    print("|---|" + "---|" * (len(PHASES) + 1))
    for folder in [HERE, *(Path(f) for f in args.scripts)]:
        counts = measure(folder, args.tasks)
        cells = [f"{counts[p]:,.0f}" for p in PHASES]
        print(f"| {folder} | {' | '.join(cells)} | {sum(counts.values()):,.0f} |", flush=True)


if __name__ == "__main__":
    main()
