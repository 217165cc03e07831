"""mypy on the worker catches a handler that still requires a parameter the contract dropped.

The bindings pass injected parameters by name instead of spreading ``**extras`` (with which
mypy assumes anything missing may come from the spread), so only start-up caught it before.
"""

from __future__ import annotations

from pathlib import Path

from taskgen_codegen.generate import BuildConfig, build
from tests.codegen.test_typing import mypy
from tests.support import build_contracts, implement_handlers

INJECTED = '''

class Database:
    """Provided by an injector, as a FastAPI dependency would be."""


async def charge(
    ctx: Context, invoice: Invoice, *, idempotency_key: str, db: Database
) -> Receipt:'''


def test_a_handler_requiring_a_dropped_parameter_fails_mypy(tmp_path: Path) -> None:
    built = build_contracts(tmp_path)
    implement_handlers(built)
    handler = built.worker_dir / "handlers" / "billing" / "charge.py"
    source = handler.read_text(encoding="utf-8")
    # The handler takes an injected parameter too: it must stay accepted.
    head = (
        "\n\nasync def charge(ctx: Context, invoice: Invoice, *, idempotency_key: str) -> Receipt:"
    )
    assert head in source
    handler.write_text(source.replace(head, INJECTED), encoding="utf-8")
    contract = built.root / "contracts" / "billing.py"
    text = contract.read_text(encoding="utf-8")
    contract.write_text(
        text.replace(
            "def charge(invoice: Invoice, *, idempotency_key: str)", "def charge(invoice: Invoice)"
        ),
        encoding="utf-8",
    )
    build(
        BuildConfig(
            contracts="contracts",
            client_package="shop_tasks",
            client_out="shop_tasks",
            worker_out="worker",
            root=str(built.root),
        )
    )
    bindings = (built.worker_dir / "bindings.py").read_text(encoding="utf-8")
    assert 'db=extras["db"]' in bindings
    errors = mypy(built, "-p", "worker")
    messages = [m for (file, _), ms in errors.items() if file == "bindings.py" for m in ms]
    assert messages == ['Missing named argument "idempotency_key" for "charge"']
