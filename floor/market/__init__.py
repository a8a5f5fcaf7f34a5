"""Market data behind one protocol, so the simulated, Polygon and replay markets swap freely."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Quote:
    """A price of one symbol at one instant, with where it came from."""

    symbol: str
    price: Decimal
    as_of: datetime  # timezone-aware, UTC
    source: str
    stale: bool = False
    previous_close: Decimal | None = None  # the close before this price, when the source says
    fetched_at: datetime | None = None  # when it came from upstream; set by the cache
    cache_id: int | None = field(default=None, compare=False)  # its row in the price cache, if cached


@dataclass(frozen=True)
class DailyClose:
    """The closing price of one trading day."""

    day: date
    close: Decimal


@runtime_checkable
class MarketData(Protocol):
    """What the floor needs from a market: which symbols exist, prices now, daily history."""

    name: str

    def knows(self, symbol: str) -> bool:
        """True if ``symbol`` (upper case) can be priced by this market."""
        ...

    def universe(self) -> list[str]:
        """The symbols a cycle fetches and traders are told about."""
        ...

    def quotes(self, symbols: Iterable[str], at: datetime) -> dict[str, Quote]:
        """Prices at ``at`` for the known symbols among ``symbols``; unknown ones are left out."""
        ...

    def history(self, symbol: str, days: int, until: date) -> list[DailyClose]:
        """The last ``days`` daily closes up to and including ``until``, oldest first."""
        ...


@runtime_checkable
class RemoteMarket(MarketData, Protocol):
    """A market behind a paid, rate-limited API: fetched once per cycle, read from the cache after.

    Traders and MCP servers never ask it for prices; ``floor.market.cache`` does, once per cycle,
    and only when the cache holds nothing current enough.
    """

    plan: str

    def session(self) -> str:
        """The market status now: ``open``, ``extended-hours`` or ``closed``."""
        ...
