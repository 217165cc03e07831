"""The contract: the task DSL, loading a contracts folder, and the model built from it."""

from taskgen.contract.dsl import Priority, Retry, TaskOptions, task
from taskgen.contract.errors import ContractError, Problem
from taskgen.contract.loader import load_contracts
from taskgen.contract.model import ContractModel

__all__ = [
    "ContractError",
    "ContractModel",
    "Priority",
    "Problem",
    "Retry",
    "TaskOptions",
    "load_contracts",
    "task",
]
