"""The workloads: each runs one library against the run's server and returns its figures."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs
from bench.envs import Env
from bench.libraries import Library
from bench.peers.probe import COUNT_KEY, FIRST_KEY, LAST_KEY
from bench.procs import BenchError
from bench.server import Server

REPO = Path(__file__).resolve().parent.parent

#: A drain whose count has not moved for this long has stalled.
STALL_SECONDS = 60.0


@dataclass(frozen=True)
class Sizes:
    """How much work each workload does."""

    tasks: int = 20_000
    roundtrips: int = 1_000
    #: Round trips stop after this many seconds (saq and arq take 0.5 to 1 s each).
    roundtrip_budget: float = 60.0
    sleeps: int = 2_000
    sleep_seconds: float = 0.05
    memory_tasks: int = 100_000
    memory_ttl: int = 5
    #: Rounds of the overhead workload (each drains ``tasks`` once per configuration).
    overhead_rounds: int = 7
    overhead_valgrind_rounds: int = 2


FULL = Sizes()
QUICK = Sizes(
    tasks=2_000,
    roundtrips=100,
    roundtrip_budget=10.0,
    sleeps=320,
    memory_tasks=5_000,
    memory_ttl=3,
    overhead_rounds=2,
    overhead_valgrind_rounds=1,
)


@dataclass
class Bench:
    """What every workload needs: the server, the sizes, the venvs, and where logs go."""

    server: Server
    sizes: Sizes
    envs: dict[str, Env]
    logs: Path
    #: More arguments for each ``taskgen worker`` process; ``{port}`` becomes a free port.
    taskgen_args: tuple[str, ...] = ()

    # -- the workloads ---------------------------------------------------------------------

    def enqueue_published(self, lib: Library) -> dict[str, Any]:
        """Enqueue N no-op tasks the way the library's published benchmark does."""
        self.server.flush()
        return self._enqueue(lib, self.sizes.tasks, lib.published_enqueue)

    def enqueue_each(self, lib: Library) -> dict[str, Any]:
        """Enqueue N no-op tasks one call each, at most 32 at a time."""
        if not lib.enqueues_each:
            return {"skipped": "batches only"}
        self.server.flush()
        return self._enqueue(lib, self.sizes.tasks, "each")

    def drain_1(self, lib: Library) -> dict[str, Any]:
        return self._drain(lib, self.sizes.tasks, processes=1)

    def drain_2(self, lib: Library) -> dict[str, Any]:
        return self._drain(lib, self.sizes.tasks, processes=2)

    def sleep(self, lib: Library) -> dict[str, Any]:
        ideal = math.ceil(self.sizes.sleeps / 32) * self.sizes.sleep_seconds
        figures = self._drain(lib, self.sizes.sleeps, processes=1, seconds=self.sizes.sleep_seconds)
        return {**figures, "ideal": ideal}

    def roundtrip(self, lib: Library) -> dict[str, Any]:
        """Enqueue one task and await its result, N times in turn, against one warm worker."""
        self.server.flush()
        self._start_workers(lib, 1)
        try:
            figures = self._client(
                lib,
                "roundtrip",
                "--n",
                str(self.sizes.roundtrips),
                "--budget",
                str(self.sizes.roundtrip_budget),
                timeout=self.sizes.roundtrip_budget + 600,
            )
        finally:
            procs.stop_all()
        latencies = sorted(figures.pop("latencies_ms"))
        if not latencies:
            raise BenchError("no round trip finished within the budget")
        return {
            "p50_ms": _percentile(latencies, 50),
            "p99_ms": _percentile(latencies, 99),
            "samples": len(latencies),
            **figures,
        }

    def memory(self, lib: Library) -> dict[str, Any]:
        """Worker RSS and Redis memory after N tasks, then again once their results expired."""
        sizes = self.sizes
        self.server.flush()
        baseline = self.server.used_memory()
        self._enqueue(lib, sizes.memory_tasks, lib.published_enqueue, ttl=sizes.memory_ttl)
        started = time.time()
        (worker,) = self._start_workers(lib, 1, ttl=sizes.memory_ttl)
        try:
            _, last = self._wait_finished(sizes.memory_tasks, [worker], started)
            # The probe counts a task before the library writes its result and ack.
            time.sleep(1.0)
            drained = self.server.used_memory(), self.server.keys(), procs.rss_bytes(worker.pid)
            time.sleep(sizes.memory_ttl)
            self._wait_for_expiry()
            expired = self.server.used_memory(), self.server.keys(), procs.rss_bytes(worker.pid)
        finally:
            procs.stop_all()
        return {
            "seconds": last - started,
            "result_ttl": sizes.memory_ttl,
            "redis_baseline": baseline,
            "redis_drained": drained[0],
            "keys_drained": drained[1],
            "rss_drained": drained[2],
            "redis_expired": expired[0],
            "keys_expired": expired[1],
            "rss_expired": expired[2],
        }

    def overhead(self, lib: Library) -> dict[str, Any]:
        """taskgen's drain with metrics, and without OpenTelemetry, against plain (overhead.py)."""
        from bench import overhead

        return overhead.measure(self, lib, self.sizes.overhead_rounds)

    def overhead_valgrind(self, lib: Library) -> dict[str, Any]:
        """The same configurations' instructions per task, counted by valgrind (overhead.py)."""
        from bench import overhead

        return overhead.instructions(self, lib, self.sizes.overhead_valgrind_rounds)

    # -- the steps they share ----------------------------------------------------------------

    def _enqueue(self, lib: Library, n: int, mode: str, ttl: int | None = None) -> dict[str, Any]:
        return dict(
            self._client(
                lib, "enqueue", "--n", str(n), "--mode", mode, timeout=60 + n / 100, ttl=ttl
            )
        )

    def _drain(
        self, lib: Library, n: int, *, processes: int, seconds: float = 0.0
    ) -> dict[str, Any]:
        """Time from starting the worker command(s) to the Nth task finishing."""
        self.server.flush()
        mode = lib.published_enqueue
        enqueued = self._client(
            lib, "enqueue", "--n", str(n), "--mode", mode, "--seconds", str(seconds),
            timeout=60 + n / 100,
        )  # fmt: skip
        server_cpu = self.server.cpu_seconds()
        started = time.time()
        workers = self._start_workers(lib, processes, sleeps=seconds > 0)
        try:
            first, last = self._wait_finished(n, workers, started)
            server_cpu = self.server.cpu_seconds() - server_cpu
            worker_cpu = sum(procs.cpu_seconds(w.pid) for w in workers)
        finally:
            procs.stop_all()
        return {
            "seconds": last - started,
            "per_second": n / (last - started),
            "startup": first - started,
            "enqueue_seconds": enqueued["seconds"],
            # Both include the workers' start-up; the worker's includes interpreter and imports.
            "server_cpu": server_cpu,
            "worker_cpu": worker_cpu,
            "processes": processes,
            "n": n,
        }

    def _wait_finished(
        self, n: int, workers: list[procs.Running], started: float
    ) -> tuple[float, float]:
        """Wait for the probe's count to reach ``n``; the first and the last finish times."""
        client = self.server.client
        seen, moved = 0, time.monotonic()
        while True:
            count = int(client.get(COUNT_KEY) or 0)
            if count >= n:
                break
            now = time.monotonic()
            if count != seen:
                seen, moved = count, now
            elif now - moved > STALL_SECONDS:
                raise BenchError(f"stalled at {count:,}/{n:,} tasks for {STALL_SECONDS:.0f} s")
            for worker in workers:
                failure = worker.failure()
                if failure is not None:
                    raise BenchError(f"worker {failure} (at {count:,} tasks)")
            time.sleep(0.01)
        firsts = [float(client.get(k) or 0) for k in client.scan_iter(FIRST_KEY + "*")]
        lasts = [float(client.get(k) or 0) for k in client.scan_iter(LAST_KEY + "*")]
        return min(firsts), max(lasts)

    def _wait_for_expiry(self, settle: float = 3.0, limit: float = 120.0) -> None:
        """Wait until the server's key count has not dropped for ``settle`` seconds."""
        deadline = time.monotonic() + limit
        keys, since = self.server.keys(), time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < settle:
            time.sleep(0.5)
            now = self.server.keys()
            if now != keys:
                keys, since = now, time.monotonic()

    def _start_workers(
        self, lib: Library, processes: int, *, sleeps: bool = False, ttl: int | None = None
    ) -> list[procs.Running]:
        env = self._env(lib)
        argv = lib.worker(env.bin, sleeps)
        return [
            procs.start(
                [*argv, *self._own_args(lib)],
                env=self._vars(ttl),
                cwd=REPO,
                log=self._worker_log(lib),
            )
            for _ in range(processes)
        ]

    def _own_args(self, lib: Library) -> list[str]:
        """``--taskgen-args`` for a taskgen worker (each process its own ``{port}``)."""
        if lib.name != "taskgen" or not self.taskgen_args:
            return []
        from tests.redis_server import free_port

        port = str(free_port())
        return [arg.replace("{port}", port) for arg in self.taskgen_args]

    def _client(self, lib: Library, *args: str, timeout: float, ttl: int | None = None) -> Any:
        env = self._env(lib)
        argv = [str(env.python), "-m", lib.module, *args]
        return procs.run_json(argv, env=self._vars(ttl), cwd=REPO, timeout=timeout)

    def _env(self, lib: Library) -> Env:
        env = self.envs[lib.env]
        if env.python is None:
            raise BenchError(env.error or "no virtualenv")
        return env

    def _vars(self, ttl: int | None) -> dict[str, str]:
        variables = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "BENCH_REDIS_URL": self.server.url,
            "BENCH_CONCURRENCY": "32",
        }
        # The harness runs in taskgen's venv; its children must not inherit that.
        variables.pop("VIRTUAL_ENV", None)
        if ttl is not None:
            variables["BENCH_RESULT_TTL"] = str(ttl)
        return variables

    def _worker_log(self, lib: Library) -> Path:
        return self.logs / f"{lib.name}-worker.log"


def _percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


Workload = Callable[[Bench, Library], dict[str, Any]]
