"""Charging customers and refunding them."""

import msgspec

from contracts.common import Money
from taskgen import Retry, task


class Address(msgspec.Struct, frozen=True):
    """A billing address."""

    line1: str
    city: str
    country: str
    postcode: str | None = None


class Invoice(msgspec.Struct, frozen=True):
    """What a customer owes, and where to send the receipt."""

    id: str
    total: Money
    billing_address: Address
    lines: list[str] = []


class Receipt(msgspec.Struct):
    """Proof that an invoice was charged."""

    charge_id: str
    invoice_id: str
    charged: Money


@task(queue="billing", retry=Retry(attempts=5, backoff=2.0), timeout=30)
def charge(invoice: Invoice, *, idempotency_key: str) -> Receipt:
    """Charge an invoice exactly once per idempotency key."""
    ...


@task(queue="billing", timeout=30)
def refund(charge_id: str, amount: Money | None = None, *, reason: str = "requested") -> bool:
    """Refund a charge, in full when no amount is given; True when the refund went through."""
    ...
