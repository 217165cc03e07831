"""The contract: the task DSL, loading a contracts folder, and the model built from it."""

from taskgen.vocabulary import Priority, Retry, TaskOptions, task
from taskgen_codegen.contract.errors import ContractError, Problem
from taskgen_codegen.contract.loader import load_contracts
from taskgen_codegen.contract.model import ContractModel

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
