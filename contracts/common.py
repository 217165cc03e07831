"""Types shared by several contract modules."""

import enum

import msgspec


class Currency(enum.StrEnum):
    """ISO 4217 currency codes the shop accepts."""

    EUR = "EUR"
    USD = "USD"
    GBP = "GBP"


class Money(msgspec.Struct, frozen=True):
    """An amount in minor units (cents), so no float ever touches money."""

    amount_cents: int
    currency: Currency = Currency.EUR
