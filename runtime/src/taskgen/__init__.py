"""taskgen: contract-first background tasks for Python."""

from taskgen.vocabulary import Fair, Limit, Priority, Rate, Retry, Unique, task

__all__ = ["Fair", "Limit", "Priority", "Rate", "Retry", "Unique", "task"]
