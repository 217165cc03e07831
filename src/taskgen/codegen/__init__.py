"""Turning a contract model into files: the client package and the worker scaffold."""

from taskgen.codegen.build import build, build_model, render_files
from taskgen.codegen.config import BuildConfig, ConfigError, load_config
from taskgen.codegen.writer import Change, Report

__all__ = [
    "BuildConfig",
    "Change",
    "ConfigError",
    "Report",
    "build",
    "build_model",
    "load_config",
    "render_files",
]
