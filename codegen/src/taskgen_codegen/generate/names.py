"""Names in generated code: derived once, from the contract, so templates never invent them."""

from __future__ import annotations

import keyword
import re

from taskgen_codegen.contract.model import TaskSpec

_WORD = re.compile(r"[A-Za-z0-9]+")


def pascal(*parts: str) -> str:
    """``("billing", "send_email")`` → ``BillingSendEmail``."""
    words = [w for part in parts for w in _WORD.findall(part.replace(".", "_"))]
    name = "".join(w[:1].upper() + w[1:] for w in words)
    return name if name[:1].isalpha() else f"T{name}"


def constant(*parts: str) -> str:
    """``("billing", "charge")`` → ``BILLING_CHARGE``."""
    words = [w for part in parts for w in _WORD.findall(part.replace(".", "_"))]
    name = "_".join(w.upper() for w in words)
    return name if name[:1].isalpha() else f"T_{name}"


def attribute(module: str) -> str:
    """The client attribute of a contract module: ``sub.billing`` → ``sub_billing``."""
    name = module.replace(".", "_")
    return f"{name}_" if keyword.iskeyword(name) else name


def task_class(task: TaskSpec) -> str:
    """The generated class that enqueues a task."""
    return pascal(task.module, task.name)


def args_class(task: TaskSpec) -> str:
    """The generated Struct that carries a task's arguments on the wire."""
    return pascal(task.module, task.name, "args")


def task_constant(task: TaskSpec) -> str:
    """The generated constant holding a task's ``TaskDef``."""
    return constant(task.module, task.name)


def docstring(text: str | None, fallback: str) -> str:
    """A one-line docstring literal, escaped so any text is safe inside triple quotes."""
    line = (text or fallback).strip().splitlines()[0] if (text or fallback).strip() else fallback
    line = line.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if line.endswith('"'):
        line = line[:-1] + '\\"'
    return f'"""{line}"""'
