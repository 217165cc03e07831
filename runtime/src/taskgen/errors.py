"""The root of every error taskgen raises, shared by the runtime and the code generator."""

from __future__ import annotations


class TaskgenError(Exception):
    """Base class of every error taskgen raises: runtime, generator and checker."""
