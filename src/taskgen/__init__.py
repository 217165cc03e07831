"""taskgen: contract-first background tasks for Python."""

from taskgen.contract.dsl import Priority, Retry, task

__all__ = ["Priority", "Retry", "task"]
