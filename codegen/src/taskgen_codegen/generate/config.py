"""Where a build reads contracts from and writes to: ``[tool.taskgen]`` or command-line flags."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import msgspec

from taskgen.errors import TaskgenError
from taskgen_codegen.check.lock import LOCK_NAME
from taskgen_codegen.generate.names import pascal

#: What npm accepts as a package name (``@scope/name`` or ``name``).
_NPM_NAME = re.compile(r"(@[a-z0-9~-][a-z0-9._~-]*/)?[a-z0-9~-][a-z0-9._~-]{0,213}")


class ConfigError(TaskgenError):
    """The build configuration is unusable; the message says which setting and why."""


class BuildConfig(
    msgspec.Struct, frozen=True, kw_only=True, rename="kebab", forbid_unknown_fields=True
):
    """Settings of one build; paths are relative to the project root."""

    contracts: str = "contracts"
    client_package: str = "tasks_client"
    client_out: str | None = None
    client_class: str | None = None
    client_version: str = "0.1.0"
    worker_out: str | None = "worker"
    #: The generated TypeScript client (an npm package); none unless set.
    ts_out: str | None = None
    #: The npm package's name (default: the client package's, with ``-`` for ``_``).
    ts_package: str | None = None
    #: Where ``taskgen schema`` writes the JSON Schemas and the AsyncAPI document.
    schema_out: str = "schema"
    #: The lock file; by default ``taskgen.lock`` inside the contracts folder, so it travels
    #: with the contracts to every repository that shares them.
    lock: str | None = None
    root: str = "."

    def __post_init__(self) -> None:
        for setting, value in (("client-package", self.client_package),):
            if not value.isidentifier():
                raise ConfigError(f"{setting} = {value!r} is not a Python package name")
        if self.ts_package is not None and not _NPM_NAME.fullmatch(self.ts_package):
            raise ConfigError(
                f"ts-package = {self.ts_package!r} is not an npm package name: lower case "
                "letters, digits and - . _ ~, optionally under a @scope/"
            )
        if self.worker_out is not None and not Path(self.worker_out).name.isidentifier():
            raise ConfigError(
                f"worker-out = {self.worker_out!r}: the folder's name is the worker package's "
                "import name, so it must be a Python identifier"
            )

    @property
    def root_path(self) -> Path:
        return Path(self.root)

    @property
    def contracts_path(self) -> Path:
        return self.root_path / self.contracts

    @property
    def lock_path(self) -> Path:
        if self.lock is not None:
            return self.root_path / self.lock
        return self.contracts_path / LOCK_NAME

    @property
    def client_path(self) -> Path:
        """The folder of the client distribution (its pyproject.toml and package)."""
        return self.root_path / (self.client_out or self.client_package)

    @property
    def client_class_name(self) -> str:
        return self.client_class or pascal(self.client_package)

    @property
    def worker_path(self) -> Path | None:
        return self.root_path / self.worker_out if self.worker_out is not None else None

    @property
    def worker_package(self) -> str:
        return Path(self.worker_out or "worker").name


def load_config(root: Path, **overrides: str | None) -> BuildConfig:
    """``[tool.taskgen]`` from ``root/pyproject.toml`` (if any), then the given overrides."""
    settings: dict[str, object] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            table = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{pyproject}: {exc}") from None
        settings.update(table.get("tool", {}).get("taskgen", {}))
    settings.update({k.replace("_", "-"): v for k, v in overrides.items() if v is not None})
    settings["root"] = str(root)
    try:
        return msgspec.convert(settings, BuildConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"[tool.taskgen] in {pyproject}: {exc}") from None
