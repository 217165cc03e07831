"""``./dev profile``: where one task's time goes, in taskgen's worker and in the bare loop.

./dev profile [--only taskgen,bare] [--what drain,roundtrip] [--tasks 20000] [--rounds 5]
              [--roundtrips 2000] [--rate 1000]

Against one server of its own, for each library:

1. **Drain.** ``--rounds`` times: enqueue ``--tasks`` no-op tasks (the published way, from a
   separate process, untimed), then run the library's worker *in this process* (taskgen's
   ``Worker.run()``, the bare loop's ``work()``: the code its worker command runs, without the
   command line's start-up) until the last task finished, after one unmeasured warm-up round.
   Once plainly, for the figures, and once under ``py-spy record --gil`` (a sampling profiler,
   keeping the samples taken while the thread holds the GIL), for how the worker's user time
   splits; its system time comes from getrusage. Redis's CPU time (INFO) and its time per
   command (INFO commandstats) are taken over each round; in the profiled run the slow log
   (threshold 0) also times each script call and the commands each script ran.
2. **Round trip.** The library's worker command, as the benchmark starts it; one client enqueues
   a task and awaits its result, ``--roundtrips`` times. Once plainly (latency, and each
   process's CPU time per round trip), once with a ``MONITOR`` connection that timestamps every
   command the server receives (the sequence of one round trip; MONITOR itself slows the
   server a little), and once with worker and client under py-spy (and the slow log).

Prints a Markdown report; the raw profiles (py-spy's collapsed stacks, one per line, readable by
flamegraph.pl or speedscope) and the figures as JSON go to ``bench/results/profile-<date>/``.
py-spy is installed into taskgen's ``.venv`` on first use (benchmark-only, like the peers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench import procs, server
from bench.libraries import BY_NAME

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
PROFILED = ("taskgen", "bare")


# -- the drain, run in this process (the child the profiler watches) -------------------------


def drain_rounds(lib: str, n: int, rounds: int) -> list[dict[str, Any]]:
    """``rounds`` times: enqueue ``n`` tasks from another process, then drain them here."""
    url = os.environ["BENCH_REDIS_URL"]
    admin = redis.Redis.from_url(url)
    figures = []
    for i in range(rounds + 1):
        admin.execute_command("FLUSHALL", "SYNC")
        subprocess.run(
            [
                sys.executable,
                "-m",
                f"bench.peers.{lib}",
                "enqueue",
                "--n",
                str(n),
                "--mode",
                "many",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=REPO,
        )
        _reset_stats(admin)
        server_cpu = _server_cpu(admin)
        before = resource.getrusage(resource.RUSAGE_SELF)
        seconds, steady = asyncio.run(_drain(lib, n))
        after = resource.getrusage(resource.RUSAGE_SELF)
        if i == 0:
            _pause()
            continue  # a warm-up round: imports, the scripts' first load
        figures.append(
            {
                "seconds": seconds,
                "steady_per_second": steady,
                "user": after.ru_utime - before.ru_utime,
                "system": after.ru_stime - before.ru_stime,
                "server_cpu": _server_cpu(admin) - server_cpu,
                "commands": _commandstats(admin),
                "scripts": _slowlog(admin),
                "n": n,
            }
        )
    admin.close()
    return figures


async def _drain(lib: str, n: int) -> tuple[float, float]:
    """Run the worker until ``n`` tasks finished: (seconds from start, steady tasks/s)."""
    from bench.peers.probe import PROBE

    finished = asyncio.Event()
    stamps: list[float] = []
    done = PROBE.done

    def counted() -> None:
        done()
        stamps.append(time.perf_counter())
        if len(stamps) >= n:
            finished.set()

    PROBE.done = counted  # type: ignore[method-assign]
    PROBE._redis = None  # a new event loop each round: the probe's connection is per loop
    started = time.perf_counter()
    if lib == "taskgen":
        from bench.peers.taskgen import worker

        running = asyncio.create_task(worker.run())
        await finished.wait()
        worker.stop()
        await running
    else:
        from bench.peers import bare

        # Set with the last task: the loop ends after writing that batch's acks and results.
        await bare.work(500, stop=finished)
    await asyncio.sleep(0.05)  # the probe's last flush
    PROBE.done = done  # type: ignore[method-assign]
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    return stamps[-1] - started, steady


# -- the round trip's client (a child, like the benchmark's) ----------------------------------


def roundtrips(lib: str, n: int, warmup: int, worker_pid: int) -> dict[str, Any]:
    """Warm up, then ``n`` round trips; latencies and every side's CPU time over those."""
    module = __import__(f"bench.peers.{lib}", fromlist=["roundtrip", "session"])
    admin = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])

    async def run() -> dict[str, Any]:
        async with module.session():
            for i in range(warmup):
                await module.roundtrip(120.0 if i == 0 else 30.0)
            await asyncio.to_thread(_pause)
            _reset_stats(admin)
            server_cpu = _server_cpu(admin)
            worker_cpu = cpu_seconds(worker_pid)
            worker_ticks = _ticks(worker_pid)
            before = resource.getrusage(resource.RUSAGE_SELF)
            latencies = []
            for _ in range(n):
                start = time.perf_counter()
                await module.roundtrip(30.0)
                latencies.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_SELF)
            worker_cpu = cpu_seconds(worker_pid) - worker_cpu
            user, system = (b - a for a, b in zip(worker_ticks, _ticks(worker_pid), strict=True))
            return {
                "worker_system_share": system / max(1, user + system),
                "latencies": latencies,
                "client_user": after.ru_utime - before.ru_utime,
                "client_system": after.ru_stime - before.ru_stime,
                "worker_cpu": worker_cpu,
                "server_cpu": _server_cpu(admin) - server_cpu,
                "commands": _commandstats(admin),
                "scripts": _slowlog(admin),
                "ports": sorted(local_ports(os.getpid())),
                "n": n,
            }

    return asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    """CPU time of all threads of ``pid``, in nanoseconds' resolution (/proc/.../schedstat;
    /proc/.../stat counts in 10 ms ticks, too coarse here)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def _ticks(pid: int) -> tuple[int, int]:
    """User and system time of ``pid`` in clock ticks (/proc/.../stat): for their ratio."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def local_ports(pid: int) -> set[str]:
    """The local TCP ports of ``pid``'s sockets, to tell its connections apart in MONITOR."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] in inodes:
                ports.add(str(int(fields[1].rsplit(":", 1)[1], 16)))
    return ports


def _pause() -> None:
    """With BENCH_PAUSE=1, say "ready" and wait for the parent's go-ahead (it attaches py-spy in
    between, so that start-up and warm-up stay out of the profile)."""
    if os.environ.get("BENCH_PAUSE") == "1":
        print("ready", flush=True)
        sys.stdin.readline()


def _server_cpu(admin: redis.Redis) -> float:
    info = admin.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _reset_stats(admin: redis.Redis) -> None:
    """Zero INFO commandstats; with BENCH_SLOWLOG=1, also log every command from now on in the
    slow log, the one place the server times each script call apart (commandstats has one
    EVALSHA line for all scripts). Logging costs the server a little per command, so the
    figures come from a run without it and the slow log only splits them (``split_scripts``)."""
    admin.config_resetstat()
    if os.environ.get("BENCH_SLOWLOG") == "1":
        admin.config_set("slowlog-max-len", 1_000_000)
        admin.config_set("slowlog-log-slower-than", 0)
        admin.slowlog_reset()


def _slowlog(admin: redis.Redis) -> dict[str, dict[str, float]]:
    """Calls and microseconds per command since ``_reset_stats``, each script apart (by its
    SHA1) and each command a script ran under it, as ``"evalsha <script> > <command>"``; the
    slow log is switched off again. Empty unless BENCH_SLOWLOG=1.

    The server logs the commands a script runs too, just before the script itself (it runs
    one command at a time), from the script caller's address: the run of script commands from
    that address right before an EVALSHA entry is that script's."""
    if os.environ.get("BENCH_SLOWLOG") != "1":
        return {}
    admin.config_set("slowlog-log-slower-than", -1)
    scripts = _script_names()
    spent: dict[str, dict[str, float]] = {}
    pending: list[tuple[str, bytes, float]] = []  # (command, address, µs), oldest first

    def add(name: str, usec: float) -> None:
        row = spent.setdefault(name, {"calls": 0.0, "usec": 0.0})
        row["calls"] += 1
        row["usec"] += usec

    for entry in reversed(admin.slowlog_get(-1)):  # oldest first
        words = entry["command"].split(b" ", 2)
        name = words[0].decode().lower()
        address, usec = entry["client_address"], float(entry["duration"])
        if name in ("config", "slowlog", "info"):
            continue
        if name in SCRIPTED and b" BLOCK " not in entry["command"].upper():
            pending.append((name, address, usec))  # maybe run by the next script
            continue
        if name == "evalsha" and len(words) > 1:
            name = f"evalsha {scripts.get(words[1].decode(), words[1][:8].decode())}"
            inside = 0
            while inside < len(pending) and pending[len(pending) - 1 - inside][1] == address:
                inside += 1
            for command, _, took in pending[len(pending) - inside :]:
                add(f"{name} > {command}", took)
            del pending[len(pending) - inside :]
        for command, _, took in pending:
            add(command, took)
        pending.clear()
        add(name, usec)
    for command, _, took in pending:
        add(command, took)
    admin.slowlog_reset()
    return spent


def split_scripts(
    plain: list[dict[str, Any]], logged: list[dict[str, Any]], per: int
) -> tuple[list[tuple[str, float, float]], float, float]:
    """Rows (label, calls, µs) per ``per``, the total µs of all commands, and the slow log's
    measured cost per command it logged inside a script (µs).

    Totals come from the plain run's commandstats. The slow log (the profiled run) splits the
    EVALSHA time between the scripts, and each script's time between its commands and Lua.
    Logging each command a script runs costs the server a little inside the script's time;
    that cost is measured (the logged run's script time less the plain run's, per logged
    command) and taken off each script in proportion to the commands it ran."""
    stats: Counter[str] = Counter()
    stat_calls: Counter[str] = Counter()
    for r in plain:
        for name, v in r["commands"].items():
            stats[name] += v["usec"]
            stat_calls[name] += v["calls"]
    slow: Counter[str] = Counter()
    slow_calls: Counter[str] = Counter()
    for r in logged:
        for name, v in r.get("scripts", {}).items():
            slow[name] += v["usec"]
            slow_calls[name] += v["calls"]
    # The logged run may have a different number of tasks: compare per task.
    logged_per = per * len(logged) / max(1, len(plain))
    scripts = [k for k in slow if k.startswith("evalsha ") and " > " not in k]
    ignored = {"config", "info", "flushall", "monitor", "slowlog", "hello", "client", "ping"}
    rows: list[tuple[str, float, float]] = []
    total = overhead = 0.0
    if scripts and stats.get("evalsha"):
        plain_eval = stats["evalsha"] / per
        slow_eval = sum(slow[k] for k in scripts) / logged_per
        inner_calls = sum(slow_calls[k] for k in slow if " > " in k) / logged_per
        overhead = max(0.0, (slow_eval - plain_eval) / inner_calls) if inner_calls else 0.0
        rows.append(("EVALSHA, all scripts", stat_calls["evalsha"] / per, plain_eval))
        total += plain_eval
        for script in sorted(scripts, key=lambda k: -slow[k]):
            inner = [k for k in slow if k.startswith(script + " > ")]
            n_inner = sum(slow_calls[k] for k in inner) / logged_per
            usec = slow[script] / logged_per - overhead * n_inner
            if usec < 0.005:
                continue
            rows.append(
                (f"· {script.removeprefix('evalsha ')}", slow_calls[script] / logged_per, usec)
            )
            spent_inner = 0.0
            for k in sorted(inner, key=lambda k: -slow[k]):
                took = slow[k] / logged_per
                spent_inner += took
                rows.append((f"· · {k.split(' > ', 1)[1]}", slow_calls[k] / logged_per, took))
            rows.append(("· · Lua itself (the rest)", 0.0, usec - spent_inner))
    nested = Counter({k.split(" > ", 1)[1]: slow_calls[k] for k in slow if " > " in k})
    for name in sorted(stats, key=lambda k: -stats[k]):
        if name in ignored or name == "evalsha" or "|" in name:
            continue
        calls, usec = stat_calls[name] / per, stats[name] / per
        if nested.get(name) and slow_calls.get(name) is not None:
            # Top-level calls of a command the scripts also run: the slow log tells them apart.
            share = slow_calls[name] / (slow_calls[name] + nested[name])
            calls, usec = calls * share, usec * share
        elif nested.get(name):
            continue  # only ever run by the scripts
        if calls < 0.0005 and usec < 0.005:
            continue
        rows.append((name, calls, usec))
        total += usec
    return rows, total, overhead


def _commandstats(admin: redis.Redis) -> dict[str, dict[str, float]]:
    """Calls and microseconds per command since the last CONFIG RESETSTAT."""
    stats = admin.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): {"calls": float(v["calls"]), "usec": float(v["usec"])}
        for name, v in stats.items()
    }


# -- the parent: runs the children, reads the profiles, prints the report --------------------


class Run:
    """One profiling run: the server, where files go, and the report being written."""

    def __init__(self, srv: server.Server, folder: Path, spy: str, rate: int) -> None:
        self.server = srv
        self.folder = folder
        self.spy_bin = spy
        self.rate = rate
        self.report: list[str] = []
        self.data: dict[str, Any] = {}

    def env(self, slowlog: bool = False) -> dict[str, str]:
        variables = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "BENCH_REDIS_URL": self.server.url,
            "BENCH_CONCURRENCY": "32",
            "BENCH_SLOWLOG": "1" if slowlog else "0",
        }
        variables.pop("VIRTUAL_ENV", None)
        return variables

    def spy(self, name: str, pid: int) -> tuple[subprocess.Popen[bytes], Path]:
        """Start ``py-spy record`` on a running process, its collapsed stacks to ``<name>.txt``;
        stop it with ``_unspy`` (SIGINT), which makes it write them."""
        out = self.folder / f"{name}.txt"
        # --gil: only samples taken while the thread holds the GIL, i.e. runs Python or C
        # extension code (user time). Without it, a blocking py-spy's own stops make waits in
        # epoll look busy (an idle asyncio loop gave 7% of its samples), and --nonblocking put
        # two thirds of a drain's samples in socket sends and epoll while the process's system
        # time was a tenth of its CPU time. System time is measured apart (getrusage).
        # Attached after start-up: a process started under py-spy at this rate once crawled
        # through its imports for minutes.
        argv = [self.spy_bin, "record", "--gil", "--rate", str(self.rate), "--format", "raw"]
        argv += ["-o", str(out), "--pid", str(pid)]
        log = (self.folder / f"{name}.spy.log").open("wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(0.5)  # attached and sampling
        if process.poll() is not None:
            raise procs.BenchError(
                f"py-spy could not attach to {pid} (see {log.name}; it needs ptrace permission: "
                "root, or kernel.yama.ptrace_scope=0)"
            )
        return process, out

    def say(self, text: str = "") -> None:
        self.report.append(text)

    # -- drain ---------------------------------------------------------------------------------

    def drain(self, lib: str, n: int, rounds: int) -> None:
        figures = str(self.folder / f"{lib}-drain.json")
        child = [sys.executable, str(Path(__file__).resolve()), "_drain", lib, str(n), str(rounds)]
        child.append(figures)
        _progress(f"{lib}: drain {rounds} x {n:,}, plain")
        plain, _ = self._json(child)
        _progress(f"{lib}: drain {rounds} x {n:,}, under py-spy")
        spied, (out,) = self._json(child, slowlog=True, spy=f"{lib}-drain")
        self.data[f"{lib}-drain"] = {"plain": plain, "spied": spied}

        total = n * rounds
        rate = statistics.median(r["n"] / r["seconds"] for r in plain)
        steady = statistics.median(r["steady_per_second"] for r in plain)
        user = sum(r["user"] for r in plain) / total * 1e6
        system = sum(r["system"] for r in plain) / total * 1e6
        wall = sum(r["seconds"] for r in plain) / total * 1e6
        redis_cpu = sum(r["server_cpu"] for r in plain) / total * 1e6
        spied_rate = statistics.median(r["n"] / r["seconds"] for r in spied)
        self.say(f"### {lib}: drain, {rounds} rounds of {n:,} no-op tasks, concurrency 32")
        self.say()
        self.say(
            f"Plain: {rate:,.0f} tasks/s from the worker's start to the last task "
            f"(median round; {steady:,.0f}/s from the first task to the last). Per task: "
            f"{wall:.1f} µs of wall time; worker CPU {user + system:.1f} µs "
            f"({user:.1f} user + {system:.1f} system); Redis CPU {redis_cpu:.1f} µs. "
            f"Under py-spy ({self.rate} Hz): {spied_rate:,.0f} tasks/s."
        )
        self.say()
        self._commands_table(plain, spied, total, "task")
        samples = read_collapsed(out)
        self._profile_table(samples, user, system, "task", DRAIN_CATEGORIES)

    # -- round trip ----------------------------------------------------------------------------

    def roundtrip(self, lib: str, n: int) -> None:
        library = BY_NAME[lib]
        worker_argv = library.worker(Path(sys.executable).parent, False)
        client = [sys.executable, str(Path(__file__).resolve()), "_roundtrip", lib, str(n)]
        results: dict[str, Any] = {}
        for mode in ("plain", "monitor", "spied"):
            _progress(f"{lib}: {n:,} round trips, {mode}")
            self.server.flush()
            log = self.folder / f"{lib}-worker.log"
            spied = mode == "spied"
            worker = procs.start(worker_argv, env=self.env(), cwd=REPO, log=log)
            monitor = Monitor(self.server.url) if mode == "monitor" else None
            try:
                command = [*client, str(worker.pid), str(self.folder / f"{lib}-roundtrip.json")]
                if spied:
                    results[mode], (client_out, worker_out) = self._json(
                        command,
                        slowlog=True,
                        spy=f"{lib}-roundtrip-client",
                        also=(f"{lib}-roundtrip-worker", worker.pid),
                    )
                else:
                    results[mode], _ = self._json(command)
            finally:
                if monitor is not None:
                    monitor.stop()
                procs.stop(worker.process)
            if monitor is not None:
                (self.folder / f"{lib}-monitor.txt").write_text("\n".join(monitor.lines))
                ports = set(results["monitor"]["ports"])
                results["timeline"] = timeline(monitor.lines, n, ports)
            if spied:
                results["worker_samples"] = read_collapsed(worker_out)
                results["client_samples"] = read_collapsed(client_out)
        self.data[f"{lib}-roundtrip"] = {
            k: v for k, v in results.items() if not k.endswith("_samples")
        }

        plain = results["plain"]
        ms = sorted(x * 1000 for x in plain["latencies"])
        monitored = sorted(x * 1000 for x in results["monitor"]["latencies"])
        spied = sorted(x * 1000 for x in results["spied"]["latencies"])
        per = 1e6 / n
        self.say(f"### {lib}: round trip, {n:,} in turn")
        self.say()
        client_cpu = (plain["client_user"] + plain["client_system"]) * per
        self.say(
            f"Plain: p50 {_pct(ms, 50):.3f} ms, p99 {_pct(ms, 99):.3f} ms. CPU per round trip: "
            f"client {client_cpu:.0f} µs ({plain['client_user'] * per:.0f} user + "
            f"{plain['client_system'] * per:.0f} system), worker "
            f"{plain['worker_cpu'] * per:.0f} µs, Redis {plain['server_cpu'] * per:.0f} µs. "
            f"With MONITOR attached: p50 {_pct(monitored, 50):.3f} ms; under py-spy: p50 "
            f"{_pct(spied, 50):.3f} ms."
        )
        self.say()
        self._commands_table([plain], [results["spied"]], n, "round trip")
        self.say("The sequence the server sees (MONITOR), median offset from the enqueue:")
        self.say()
        self.say("| µs | connection | command |")
        self.say("|---|---|---|")
        for offset, who, what in results["timeline"]:
            self.say(f"| {offset:,.0f} | {who} | {what} |")
        self.say()
        worker_cpu = plain["worker_cpu"] * per
        worker_system = worker_cpu * plain["worker_system_share"]
        self.say("Worker, per round trip (user/system split from /proc/<pid>/stat):")
        self.say()
        self._profile_table(
            results["worker_samples"],
            worker_cpu - worker_system,
            worker_system,
            "round trip",
            DRAIN_CATEGORIES,
        )
        self.say("Client, per round trip:")
        self.say()
        self._profile_table(
            results["client_samples"],
            plain["client_user"] * per,
            plain["client_system"] * per,
            "round trip",
            CLIENT_CATEGORIES,
        )

    # -- helpers -------------------------------------------------------------------------------

    def _json(
        self,
        argv: list[str],
        *,
        slowlog: bool = False,
        spy: str | None = None,
        also: tuple[str, int] | None = None,
    ) -> tuple[Any, list[Path]]:
        """Run a child that writes its figures as JSON to the file its last argument names.

        With ``spy`` (a name), the child pauses after its warm-up while py-spy attaches to it
        (and to ``also``: a name and the pid of another process); returns the profiles too."""
        out = Path(argv[-1])
        out.unlink(missing_ok=True)
        env = self.env(slowlog)
        env["BENCH_PAUSE"] = "1" if spy else "0"
        child = subprocess.Popen(
            argv, env=env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=(self.folder / "children.log").open("ab"),
        )  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        spies: list[tuple[subprocess.Popen[bytes], Path]] = []
        try:
            if spy:
                if child.stdout.readline().strip() != b"ready":
                    raise procs.BenchError(f"{argv[3:5]} did not get ready")
                spies.append(self.spy(spy, child.pid))
                if also is not None:
                    spies.append(self.spy(*also))
                child.stdin.write(b"go\n")
                child.stdin.flush()
            child.wait(timeout=1200)
        finally:
            for process, _ in spies:
                _unspy(process)
            if child.poll() is None:
                child.kill()
                child.wait()
        if child.returncode != 0 or not out.exists():
            tail = procs.log_tail(self.folder / "children.log")
            raise procs.BenchError(f"{argv[3:5]} failed ({child.returncode}): {tail}")
        return json.loads(out.read_text()), [path for _, path in spies]

    def _commands_table(
        self, plain: list[dict[str, Any]], logged: list[dict[str, Any]], per: int, unit: str
    ) -> None:
        """Where Redis's time goes, per task: see ``split_scripts``."""
        rows, total, overhead = split_scripts(plain, logged, per)
        cpu = sum(r["server_cpu"] for r in plain) * 1e6 / per
        self.say(
            f"Redis, per {unit}: INFO commandstats of the plain run; the time of all scripts "
            "(EVALSHA) split between them, and each script's split between the commands it "
            "ran and Lua itself, as the slow log timed them in the profiled run (less the slow "
            "log's own cost per logged command); then Redis's whole CPU time (INFO "
            "used_cpu_user + used_cpu_sys), which adds reading and writing sockets and its "
            "event loop."
        )
        self.say()
        self.say(f"| command | calls per {unit} | µs per {unit} |")
        self.say("|---|---|---|")
        for label, calls, usec in rows:
            self.say(f"| {label} | {calls:.3f} | {usec:.2f} |")
        self.say(f"| *all commands* | | {total:.2f} |")
        self.say(f"| *Redis CPU time* | | {cpu:.2f} |")
        self.say()
        if overhead:
            self.say(f"(The slow log cost {overhead:.2f} µs per command it logged in a script.)")
            self.say()

    def _profile_table(
        self,
        samples: Counter[tuple[str, ...]],
        user_us: float,
        system_us: float,
        unit: str,
        categories: list[Category],
    ) -> None:
        """The user CPU time split as py-spy's samples say, then the system time."""
        steady = Counter({s: c for s, c in samples.items() if _steady(s)})
        total = sum(steady.values())
        if not total:
            self.say("*(no samples)*")
            return
        grouped: Counter[str] = Counter()
        for stack, count in steady.items():
            grouped[classify(stack, categories)] += count
        self.say(f"| where (py-spy: {total:,} samples holding the GIL) | share | µs per {unit} |")
        self.say("|---|---|---|")
        for label in [*(c[0] for c in categories), OTHER]:
            count = grouped.get(label, 0)
            if count:
                share = count / total
                self.say(f"| {label} | {share:.1%} of user | {share * user_us:.1f} |")
        self.say(f"| **user time** (getrusage) | | **{user_us:.1f}** |")
        self.say(
            f"| **system time** (getrusage): the kernel's side of socket sends, receives and "
            f"epoll | | **{system_us:.1f}** |"
        )
        self.say()
        leaves: Counter[str] = Counter()
        for stack, count in steady.items():
            leaves[_leaf(stack)] += count
        self.say("<details><summary>Top 15 innermost Python lines (self time)</summary>")
        self.say()
        self.say("| share | line |")
        self.say("|---|---|")
        for leaf, count in leaves.most_common(15):
            self.say(f"| {count / total:.1%} | `{leaf}` |")
        self.say()
        self.say("</details>")
        self.say()


def _pct(ordered: list[float], pct: float) -> float:
    return ordered[max(0, -(-len(ordered) * pct // 100) - 1)] if ordered else float("nan")


def _unspy(process: subprocess.Popen[bytes]) -> None:
    """Stop a py-spy record as Ctrl-C would: it writes its profile, then exits."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _progress(text: str) -> None:
    print(f"[profile] {text}", file=sys.stderr, flush=True)


# -- MONITOR: the order in which the server receives commands -------------------------------


class Monitor:
    """A MONITOR connection in a thread, keeping every line it receives."""

    def __init__(self, url: str) -> None:
        self.lines: list[str] = []
        self._client = redis.Redis.from_url(url)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        with self._client.monitor() as monitor:
            self._monitor = monitor
            self._ready.set()
            try:
                for command in monitor.listen():
                    self.lines.append(_monitor_line(command))
            except Exception:  # the connection closed by stop()
                return

    def stop(self) -> None:
        self._monitor.connection.disconnect()
        self._thread.join(5)


def _monitor_line(command: dict[str, Any]) -> str:
    return (
        f"{command['time']:.6f}\t{command['client_address']}:{command['client_port']}\t"
        + (command["command"])
    )


#: Script SHA1 -> name, for taskgen's scripts.
def _script_names() -> dict[str, str]:
    from taskgen.runtime.scripts import source

    names = {}
    for name in ("enqueue", "fetch", "complete", "renew", "reclaim", "promote", "release"):
        names[hashlib.sha1(source(name).encode()).hexdigest()] = name
    return names


def timeline(lines: list[str], n: int, client_ports: set[str]) -> list[tuple[float, str, str]]:
    """The median offset, from each round trip's enqueue, of each command that follows it."""
    scripts = _script_names()
    events: list[tuple[float, str, str]] = []
    script = ""
    for line in lines:
        at, who, command = line.split("\t", 2)
        words = command.split(" ")
        name = words[0].upper()
        if name in ("INFO", "CONFIG", "PING", "CLIENT", "HELLO", "MONITOR", "SLOWLOG"):
            continue
        if name == "EVALSHA" and len(words) > 1:
            script = scripts.get(words[1], words[1][:8])
            name = f"EVALSHA {script}"
        if who.startswith("lua"):
            role = f"· inside {script}"
        elif who.rsplit(":", 1)[-1] in client_ports:
            role = "client"
        elif "bench:" in command:
            role = "worker (benchmark probe)"
        else:
            role = "worker"
        events.append((float(at), role, name))
    starts = [
        i
        for i, (_, role, name) in enumerate(events)
        if role == "client" and name in ("EVALSHA enqueue", "XADD")
    ][-n:]
    offsets: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for k, begin in enumerate(starts[:-1]):
        t0 = events[begin][0]
        seen: Counter[tuple[str, str]] = Counter()
        for at, role, name in events[begin : starts[k + 1]]:
            seen[(role, name)] += 1
            offsets[(role, name, seen[(role, name)])].append((at - t0) * 1e6)
    rows = []
    for (role, name, index), values in offsets.items():
        if len(values) >= len(starts) // 2:  # in most round trips
            label = name if index == 1 else f"{name} (#{index})"
            rows.append((statistics.median(values), role, label))
    return sorted(rows)


# -- reading and classifying py-spy's collapsed stacks ---------------------------------------

Stack = tuple[str, ...]
Category = tuple[str, Callable[[Stack], bool]]
OTHER = "other"
#: Commands that the scripts run (counted inside EVALSHA's time too).
SCRIPTED = {
    "xreadgroup",
    "hset",
    "pexpire",
    "publish",
    "xack",
    "xdel",
    "exists",
    "xadd",
    "time",
    "xpending",
    "xclaim",
    "xautoclaim",
    "zrange",
    "zadd",
    "zrangebyscore",
    "hincrby",
    "hexists",
}


def read_collapsed(path: Path) -> Counter[Stack]:
    """py-spy's raw output: ``frame;frame;... count`` per line, outermost frame first."""
    samples: Counter[Stack] = Counter()
    if not path.exists():
        return samples
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples[tuple(stack.split(";"))] += int(count)
    return samples


def _has(*names: str) -> Callable[[Stack], bool]:
    """Some frame's function is one of ``names`` (``Class.method`` or ``function``)."""
    wanted = set(names)
    return lambda stack: any(f.split(" (", 1)[0] in wanted for f in stack)


def _in_file(*parts: str) -> Callable[[Stack], bool]:
    return lambda stack: any(p in f for f in stack for p in parts)


def _leaf_is(*names: str) -> Callable[[Stack], bool]:
    wanted = set(names)
    return lambda stack: bool(stack) and stack[-1].split(" (", 1)[0] in wanted


def _all(*tests: Callable[[Stack], bool]) -> Callable[[Stack], bool]:
    return lambda stack: all(t(stack) for t in tests)


def _any(*tests: Callable[[Stack], bool]) -> Callable[[Stack], bool]:
    return lambda stack: any(t(stack) for t in tests)


SENDING = _has(
    "AbstractConnection.send_packed_command",
    "AbstractConnection._send_packed_command",
    "AbstractConnection.send_command",
    "AbstractConnection.pack_command",
    "AbstractConnection.pack_commands",
    "PythonRespSerializer.pack",
    "encode_command",
)
PARSING = _has(
    "AbstractConnection.read_response",
    "_AsyncHiredisParser.read_response",
    "_AsyncHiredisParser.read_from_socket",
)
REDIS_CALL = _in_file("redis/")
SOCKET_READ = _has(
    "_SelectorSocketTransport._read_ready",
    "_SelectorSocketTransport._read_ready__data_received",
    "_SelectorSocketTransport._read_ready__get_buffer",
    "StreamReaderProtocol.data_received",
)

WRITES = _has("_SelectorSocketTransport.write", "_SelectorSocketTransport.writelines")
EPOLL = _has("EpollSelector.select", "BaseSelectorEventLoop._process_events")
LOOP = _in_file("asyncio/")
FETCH = _has("QueueReader._fetch")
COMPLETE = _has("Completer.run", "Completer.flush")

#: Worker categories, first match wins. Reading the reply bytes off a socket happens in the
#: event loop (a callback), not in the coroutine that awaits them, so it has its own line.
DRAIN_CATEGORIES: list[Category] = [
    (
        "benchmark probe (counts finished tasks; not taskgen's)",
        _has("Probe.done", "Probe._flush", "_drain.<locals>.counted"),
    ),
    ("fetch script: build and send EVALSHA", _all(FETCH, SENDING)),
    ("fetch script: parse the reply", _all(FETCH, PARSING)),
    ("fetch script: rest of the redis-py call", _all(FETCH, REDIS_CALL)),
    ("fetch: make Delivery objects", _has("QueueReader._fetch", "Delivery.__init__")),
    ("blocking XREADGROUP (queue empty)", _has("QueueReader._wait_for_work")),
    ("start: decode envelope + args (msgspec), Context, create_task", _has("Executor.start")),
    (
        "reader loop, slots, hold",
        _has("QueueReader.run", "QueueReader._start", "Executor.hold", "Slots.take", "Slots.give"),
    ),
    ("handler (the no-op task itself)", _has("nap")),
    (
        "end: encode Outcome, pack the record, forget",
        _has("Executor._done", "Executor._record", "Executor._forget", "Completer.add"),
    ),
    ("task coroutine (Executor._run)", _has("Executor._run")),
    ("complete script: build and send EVALSHA", _all(COMPLETE, SENDING)),
    ("complete script: parse the reply", _all(COMPLETE, PARSING)),
    ("complete script: rest of the redis-py call", COMPLETE),
    ("lease renewal and reclaim", _has("LeaseKeeper.run")),
    ("scheduler, control listener", _has("Scheduler.run", "ControlListener.run")),
    (
        "bare loop: XREADGROUP",
        _all(_has("work"), _any(SENDING, PARSING, _has("Redis.xreadgroup"))),
    ),
    ("bare loop: XACK/XDEL/SET/PUBLISH pipeline", _all(_has("work"), REDIS_CALL)),
    ("bare loop: decode and run", _has("work")),
    ("event loop: socket reads (recv, feeding readers)", SOCKET_READ),
    ("event loop: socket writes (send)", WRITES),
    ("event loop: epoll", EPOLL),
    ("event loop: scheduling and stepping tasks", LOOP),
]

CLIENT_CATEGORIES: list[Category] = [
    ("enqueue: encode the call", _has("pack_call", "encode_call", "new_task_id")),
    ("enqueue script: build and send EVALSHA", _all(_has("Client.enqueue"), SENDING)),
    ("enqueue script: parse the reply", _all(_has("Client.enqueue"), PARSING)),
    ("enqueue: rest of the redis-py call", _has("Client.enqueue")),
    ("result: SUBSCRIBE/UNSUBSCRIBE, stored check", _has("ResultWaiter._send")),
    ("result: reading pub/sub messages", _has("ResultWaiter._read")),
    ("result: waiting, decoding", _has("ResultWaiter.wait", "TaskHandle.result", "unwrap")),
    ("bare client: reading pub/sub messages", _has("PubSub.get_message")),
    ("bare client: XADD", _all(_has("roundtrip"), REDIS_CALL)),
    ("round-trip coroutine (timeouts, timing)", _has("roundtrips.<locals>.run")),
    ("event loop: socket reads (recv, feeding readers)", SOCKET_READ),
    ("event loop: socket writes (send)", WRITES),
    ("event loop: epoll", EPOLL),
    ("event loop: scheduling and stepping tasks", LOOP),
]


def classify(stack: Stack, categories: list[Category]) -> str:
    for label, test in categories:
        if test(stack):
            return label
    return OTHER


#: Start-up and shut-down: not part of any one task's time.
_EDGES = _has(
    "Worker._create_groups",
    "Worker._release",
    "Executor.drain",
    "stop_tasks",
    "Scripts.__init__",
    "Redis.xgroup_create",
    "_find_and_load",
    "_reset_stats",
    "_slowlog",
    "_server_cpu",
    "_commandstats",
    "cpu_seconds",
    "local_ports",
)


def _steady(stack: Stack) -> bool:
    """A sample of the event loop at work, not of start-up, shut-down or the harness."""
    return any("run_forever" in f for f in stack) and not _EDGES(stack)


_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):(?P<line>\d+)\)$")


def _leaf(stack: Stack) -> str:
    """The innermost frame as ``file:line function: source text``."""
    match = _FRAME.match(stack[-1])
    if not match:
        return stack[-1]
    file, line = match["file"], int(match["line"])
    text = ""
    for base in (*sys.path, str(REPO / "src")):
        candidate = Path(base, file)
        if candidate.is_file():
            with contextlib.suppress(OSError, IndexError):
                text = candidate.read_text().splitlines()[line - 1].strip()
            break
    short = re.sub(r"^.*site-packages/", "", file)
    return f"{short}:{line} {match['function']}: {text}".replace("|", "/")


# -- the command line ------------------------------------------------------------------------


def ensure_spy() -> str:
    """py-spy from taskgen's venv, installed there on first use."""
    found = Path(sys.executable).parent / "py-spy"
    if not found.exists():
        _progress("installing py-spy into .venv (benchmark-only)")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "py-spy"], check=True)
    return str(found) if found.exists() else shutil.which("py-spy") or "py-spy"


def main() -> None:
    if sys.argv[1:2] == ["_drain"]:
        lib, n, rounds, out = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        Path(out).write_text(json.dumps(drain_rounds(lib, n, rounds)))
        return
    if sys.argv[1:2] == ["_roundtrip"]:
        lib, n, pid, out = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        Path(out).write_text(json.dumps(roundtrips(lib, n, warmup=20, worker_pid=pid)))
        return
    parser = argparse.ArgumentParser(prog="./dev profile", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PROFILED), help="taskgen,bare")
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks per drain round")
    parser.add_argument("--rounds", type=int, default=5, help="drain rounds")
    parser.add_argument("--roundtrips", type=int, default=2_000)
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    parser.add_argument(
        "--what", default="drain,roundtrip", help="comma-separated: drain,roundtrip"
    )
    args = parser.parse_args()
    libs = [name for name in args.only.split(",") if name in PROFILED]
    what = args.what.split(",")
    spy = ensure_spy()
    stamp = datetime.datetime.now(datetime.UTC)
    folder = RESULTS / f"profile-{stamp:%Y-%m-%dT%H%M%S}"
    folder.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with server.started() as srv:
        run = Run(srv, folder, spy, args.rate)
        run.say(f"## Profile: {', '.join(libs)} on {srv.name.split(' ')[0]} {srv.version}")
        run.say()
        try:
            for lib in libs:
                if "drain" in what:
                    run.drain(lib, args.tasks, args.rounds)
                if "roundtrip" in what:
                    run.roundtrip(lib, args.roundtrips)
        finally:
            procs.stop_all()
    text = "\n".join(run.report)
    (folder / "report.md").write_text(text + "\n")
    (folder / "figures.json").write_text(json.dumps(run.data, indent=1))
    print(text)
    _progress(f"report and profiles: {folder.relative_to(REPO)}/")


if __name__ == "__main__":
    main()
