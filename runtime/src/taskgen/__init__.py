"""taskgen: contract-first background tasks for Python."""

from taskgen.vocabulary import Limit, Priority, Rate, Retry, Unique, task

__all__ = ["Limit", "Priority", "Rate", "Retry", "Unique", "task"]
