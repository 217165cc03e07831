"""taskgen: contract-first background tasks for Python."""

from taskgen.vocabulary import Priority, Retry, task

__all__ = ["Priority", "Retry", "task"]
