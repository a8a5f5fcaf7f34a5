"""A price source for ledger tests: set prices that a test may move, and symbols without a quote."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from floor.market import Quote


class SetPrices:
    """The ledger's outside world under test: ``prices`` quoted as set, ``unquoted`` known but unpriced."""

    def __init__(self, prices: dict[str, str], unquoted: set[str] | None = None) -> None:
        self.prices = {s: Decimal(p) for s, p in prices.items()}
        self.unquoted = set(unquoted or ())

    def knows(self, symbol: str) -> bool:
        return symbol in self.prices or symbol in self.unquoted

    def now(self) -> datetime:
        return datetime.now(UTC)

    def quote(self, symbol: str) -> Quote | None:
        if symbol in self.unquoted or symbol not in self.prices:
            return None
        return Quote(symbol, self.prices[symbol], datetime.now(UTC), "fixed")

    def move(self, symbol: str, price: str | Decimal) -> None:
        self.prices[symbol] = Decimal(price)
