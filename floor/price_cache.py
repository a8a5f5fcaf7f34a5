"""Prices cached in Postgres with their as-of time, and the price book trades fill from.

A cycle fetches the whole universe once and stores it under the cycle's id; every price a trader
looks up during that cycle, and every fill, comes from that cache. Outside a cycle (a user
running an MCP server by hand) the book asks the market and caches what it gets.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine, insert, select

from floor.errors import TradeRejected
from floor.ledger import normalize_symbol
from floor.market import DailyClose, MarketData, Quote
from floor.schema import prices

MAX_LOOKBACK_DAYS = 365  # how far back a trader may ask for daily closes


def store_quotes(engine: Engine, quotes: Iterable[Quote], cycle_id: int | None = None) -> int:
    """Write quotes to the cache; returns how many were written."""
    rows = [
        {
            "symbol": q.symbol,
            "price": q.price,
            "as_of": q.as_of,
            "source": q.source,
            "stale": q.stale,
            "cycle_id": cycle_id,
        }
        for q in quotes
    ]
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(prices), rows)
    return len(rows)


def _quote(row) -> Quote:
    return Quote(symbol=row.symbol, price=row.price, as_of=row.as_of, source=row.source, stale=row.stale)


def cycle_quotes(engine: Engine, cycle_id: int) -> dict[str, Quote]:
    """Every price cached for one cycle, by symbol."""
    with engine.connect() as conn:
        rows = conn.execute(select(prices).where(prices.c.cycle_id == cycle_id).order_by(prices.c.id))
        return {row.symbol: _quote(row) for row in rows}


def latest_quotes(engine: Engine, symbols: Iterable[str] | None = None) -> dict[str, Quote]:
    """The newest cached price of each symbol (of ``symbols``, or of all)."""
    query = (
        select(prices)
        .distinct(prices.c.symbol)  # DISTINCT ON (symbol)
        .order_by(prices.c.symbol, prices.c.fetched_at.desc(), prices.c.id.desc())
    )
    if symbols is not None:
        query = query.where(prices.c.symbol.in_(list(symbols)))
    with engine.connect() as conn:
        return {row.symbol: _quote(row) for row in conn.execute(query)}


class PriceBook:
    """The prices a trader sees and trades at: the cycle's cached prices, else the market's."""

    def __init__(self, engine: Engine, market: MarketData, cycle_id: int | None = None) -> None:
        self._engine = engine
        self._market = market
        self._cycle_id = cycle_id
        self._cycle_cache: dict[str, Quote] | None = None

    def knows(self, symbol: str) -> bool:
        return self._market.knows(symbol)

    def resolve(self, symbol: object) -> str:
        """The normalised symbol if this market trades it, else a TradeRejected saying why."""
        cleaned = normalize_symbol(symbol)
        if not self._market.knows(cleaned):
            raise TradeRejected(f"unknown symbol {cleaned}: it is not traded on this floor's market")
        return cleaned

    def universe(self) -> list[str]:
        return self._market.universe()

    def quote(self, symbol: str) -> Quote | None:
        if self._cycle_id is not None:
            if self._cycle_cache is None:
                self._cycle_cache = cycle_quotes(self._engine, self._cycle_id)
            if symbol in self._cycle_cache:
                return self._cycle_cache[symbol]
        if not self._market.knows(symbol):
            return None
        fresh = self._market.quotes([symbol], datetime.now(UTC)).get(symbol)
        if fresh is not None:
            store_quotes(self._engine, [fresh], self._cycle_id)
            if self._cycle_cache is not None:
                self._cycle_cache[symbol] = fresh
        return fresh

    def history(self, symbol: str, days: int, until: date | None = None) -> list[DailyClose]:
        """Daily closes of a known symbol, oldest first; at most a year back."""
        if not 1 <= days <= MAX_LOOKBACK_DAYS:
            raise TradeRejected(f"days must be between 1 and {MAX_LOOKBACK_DAYS}, got {days}")
        return self._market.history(symbol, days, until or datetime.now(UTC).date())


def price_map(quotes: dict[str, Quote]) -> dict[str, Decimal]:
    return {symbol: q.price for symbol, q in quotes.items()}
