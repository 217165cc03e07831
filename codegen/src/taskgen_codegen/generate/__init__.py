"""Turning a contract model into files: the client package and the worker scaffold."""

from taskgen_codegen.generate.build import build, build_model, render_files
from taskgen_codegen.generate.config import BuildConfig, ConfigError, load_config
from taskgen_codegen.generate.writer import Change, Report

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
