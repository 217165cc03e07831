"""The virtualenvs of the peers: created once under bench/.envs/ with pinned versions, reused
while the pins are unchanged. Peers are benchmark-only: they never enter taskgen's own venv."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ENVS_DIR = Path(__file__).resolve().parent / ".envs"

#: Name of each virtualenv and its pins. streaq, saq and taskiq agree on their pins, so they
#: share one; arq needs redis<6. hiredis is pinned as in taskgen's venv (redis[hiredis]), so
#: every library that parses with redis-py gets the same parser.
PINS: dict[str, tuple[str, ...]] = {
    "peers": (
        "streaq==7.2.0",
        "coredis==6.9.0",
        "saq==0.26.4",
        "taskiq==0.13.0",
        "taskiq-redis==1.2.4",
        "redis==8.1.0",
        "hiredis==3.5.0",
        "uvloop==0.23.0",
    ),
    "arq": ("arq==0.28.0", "redis==5.3.1", "hiredis==3.5.0"),
}

#: Distributions whose versions the report shows.
SHOWN = {
    "taskgen",
    "streaq",
    "coredis",
    "saq",
    "taskiq",
    "taskiq-redis",
    "arq",
    "redis",
    "hiredis",
    "msgspec",
    "uvloop",
}

_VERSIONS = (
    "import importlib.metadata as m, json;"
    "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))"
)


@dataclass
class Env:
    """A virtualenv ready to run (``python`` set) or the reason it is not (``error``)."""

    name: str
    python: Path | None
    versions: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def bin(self) -> Path:
        assert self.python is not None
        return self.python.parent


def taskgen_env() -> Env:
    """The project's own venv, the one running this harness."""
    return _with_versions(Env("taskgen", Path(sys.executable)))


def prepare(name: str, *, install: bool, log: Path) -> Env:
    """The virtualenv ``name``, (re)made first if its pins changed, unless ``install`` is off."""
    folder = ENVS_DIR / name
    python = folder / "bin" / "python"
    stamp = folder / ".pins"
    wanted = "\n".join(PINS[name])
    current = python.exists() and stamp.exists() and stamp.read_text() == wanted
    if install and not current:
        try:
            _create(folder, PINS[name], log)
        except (subprocess.SubprocessError, OSError) as exc:
            return Env(name, None, error=f"install failed: {exc} (log: {log})")
        stamp.write_text(wanted)
    elif not python.exists():
        return Env(name, None, error="virtualenv missing: run without --skip-install")
    return _with_versions(Env(name, python))


def _create(folder: Path, pins: tuple[str, ...], log: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    with log.open("a") as out:
        subprocess.run(
            [sys.executable, "-m", "venv", str(folder)], check=True, stdout=out, stderr=out
        )
        subprocess.run(
            [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *pins],
            check=True,
            stdout=out,
            stderr=out,
            timeout=900,
        )


def _with_versions(env: Env) -> Env:
    assert env.python is not None
    try:
        found = subprocess.run(
            [str(env.python), "-c", _VERSIONS], capture_output=True, text=True, timeout=60
        )
        every = json.loads(found.stdout)
    except (subprocess.SubprocessError, ValueError) as exc:
        env.error = f"cannot list its packages: {exc}"
        return env
    env.versions = {k: v for k, v in sorted(every.items()) if k in SHOWN}
    return env
