"""Prices cached in Postgres with their source and as-of time, and the price book trades fill from.

A cycle gets one batch of prices for the whole universe (:mod:`floor.price_feed`) and stores it
under the cycle's id; every price a trader looks up during that cycle, and every fill, comes from
that cache. A remote market (Polygon) is never asked from here: outside a cycle the book reads the
newest cached price. The simulated market, which costs nothing to ask, is asked directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine, String, column, func, insert, select, text, true
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.dialects.postgresql import insert as pg_insert

from floor.errors import TradeRejected
from floor.ledger import normalize_symbol
from floor.market import DailyClose, MarketData, Quote, RemoteMarket
from floor.schema import daily_closes, prices

MAX_LOOKBACK_DAYS = 365  # how far back a trader may ask for daily closes


def store_quotes(engine: Engine, quotes: Iterable[Quote], cycle_id: int | None = None) -> int:
    """Write quotes to the cache; returns how many were written.

    A quote's ``fetched_at`` is kept when set (a cached batch reused by a later cycle stays dated
    by its upstream fetch); otherwise the whole write is stamped with one time: one batch.
    """
    now = datetime.now(UTC)
    rows = [
        {
            "symbol": q.symbol,
            "price": q.price,
            "as_of": q.as_of,
            "source": q.source,
            "stale": q.stale,
            "cycle_id": cycle_id,
            "fetched_at": q.fetched_at or now,
        }
        for q in quotes
    ]
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(prices), rows)
    return len(rows)


def _quote(row) -> Quote:
    return Quote(
        symbol=row.symbol,
        price=row.price,
        as_of=row.as_of,
        source=row.source,
        stale=row.stale,
        fetched_at=row.fetched_at,
    )


def cycle_quotes(engine: Engine, cycle_id: int) -> dict[str, Quote]:
    """Every price cached for one cycle, by symbol."""
    with engine.connect() as conn:
        rows = conn.execute(select(prices).where(prices.c.cycle_id == cycle_id).order_by(prices.c.id))
        return {row.symbol: _quote(row) for row in rows}


def latest_quotes(
    engine: Engine, symbols: Iterable[str] | None = None, *, source: str | None = None
) -> dict[str, Quote]:
    """The newest cached price of each symbol (of ``symbols``, or of all; of one source, or any).

    For named symbols, one index probe each (a lateral ``LIMIT 1``), not a sort of every cached
    price: with a year of hourly prices that is milliseconds instead of a few hundred.
    """
    if symbols is None:
        query = select(prices).distinct(prices.c.symbol)  # DISTINCT ON (symbol)
        if source is not None:
            query = query.where(prices.c.source == source)
        query = query.order_by(prices.c.symbol, prices.c.fetched_at.desc(), prices.c.id.desc())
    else:
        names = sorted(set(symbols))
        if not names:
            return {}
        wanted = (
            func.unnest(array(names, type_=String))
            .table_valued(column("symbol", String))
            .render_derived(name="wanted")
        )
        newest = select(prices).where(prices.c.symbol == wanted.c.symbol)
        if source is not None:
            newest = newest.where(prices.c.source == source)
        newest = newest.order_by(prices.c.fetched_at.desc(), prices.c.id.desc()).limit(1).lateral()
        query = select(newest).select_from(wanted).join(newest, true())
    with engine.connect() as conn:
        return {row.symbol: _quote(row) for row in conn.execute(query)}


def latest_batch(engine: Engine, source: str) -> list[Quote]:
    """The newest good (not stale) batch fetched from ``source``: every row of its fetch time."""
    good = (prices.c.source == source) & prices.c.stale.is_(False)
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(prices.c.fetched_at)).where(good)).scalar_one_or_none()
        if newest is None:
            return []
        rows = conn.execute(
            select(prices)
            .distinct(prices.c.symbol)
            .where(good, prices.c.fetched_at == newest)
            .order_by(prices.c.symbol, prices.c.id)
        )
        return [_quote(row) for row in rows]


def closes_before(
    engine: Engine, source: str, symbols: Iterable[str], before: datetime, since: datetime
) -> dict[str, Decimal]:
    """Each symbol's newest good cached price from ``source`` dated in ``[since, before)``."""
    query = (
        select(prices.c.symbol, prices.c.price)
        .distinct(prices.c.symbol)
        .where(
            prices.c.source == source,
            prices.c.stale.is_(False),
            prices.c.as_of < before,
            prices.c.as_of >= since,
            prices.c.symbol.in_(list(symbols)),
        )
        .order_by(prices.c.symbol, prices.c.as_of.desc(), prices.c.id.desc())
    )
    with engine.connect() as conn:
        return {row.symbol: row.price for row in conn.execute(query)}


def cached_history(
    engine: Engine, market: MarketData, symbol: str, days: int, until: date
) -> list[DailyClose]:
    """Daily closes from the cache; on a miss one upstream request, stored for everyone after.

    The cache answers when it holds every wanted session, or when a fetch made after the last
    wanted session closed covered the whole range (days missing then are missing upstream, e.g. a
    halt, and asking again would not bring them). A transaction-scoped advisory lock per (source,
    symbol) makes concurrent misses wait for the first fetch instead of each asking upstream.
    """
    from floor.market.calendar import last_closed_session, session_close, sessions_until

    until = min(until, last_closed_session(datetime.now(UTC)))
    wanted = sessions_until(until, days)
    source, key = market.name, symbol.upper()
    cached_rows = (
        select(daily_closes.c.day, daily_closes.c.close, daily_closes.c.fetched_at)
        .where(
            daily_closes.c.symbol == key,
            daily_closes.c.source == source,
            daily_closes.c.day.between(wanted[0], wanted[-1]),
        )
        .order_by(daily_closes.c.day)
    )
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"history:{source}:{key}"})
        rows = conn.execute(cached_rows).all()
        have = {row.day for row in rows}
        answered = bool(rows) and rows[0].day == wanted[0]
        answered = answered and max(row.fetched_at for row in rows) >= session_close(wanted[-1])
        if have >= set(wanted) or answered:
            return [DailyClose(day=row.day, close=row.close) for row in rows]
        fetched = market.history(key, days, until)
        if fetched:
            statement = pg_insert(daily_closes).values(
                [{"symbol": key, "day": c.day, "source": source, "close": c.close} for c in fetched]
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["symbol", "day", "source"],
                    set_={"close": statement.excluded.close, "fetched_at": func.now()},
                )
            )
        return fetched


class PriceBook:
    """The prices a trader sees and trades at: the cycle's cached prices, else the newest cached.

    Only a local market (the simulation) is asked for a price here; a remote one is fetched once
    per cycle by the cycle itself, so traders cause no upstream requests for prices.
    """

    def __init__(self, engine: Engine, market: MarketData, cycle_id: int | None = None) -> None:
        self._engine = engine
        self._market = market
        self._cycle_id = cycle_id
        self._cycle_cache: dict[str, Quote] | None = None
        self._remote = isinstance(market, RemoteMarket)

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
        if self._remote:
            if self._cycle_id is not None:
                return None  # the cycle has no usable price for it: no trade, never an invented one
            return latest_quotes(self._engine, [symbol], source=self._market.name).get(symbol)
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
        until = until or datetime.now(UTC).date()
        if self._remote:
            return cached_history(self._engine, self._market, symbol, days, until)
        return self._market.history(symbol, days, until)


def price_map(quotes: dict[str, Quote]) -> dict[str, Decimal]:
    return {symbol: q.price for symbol, q in quotes.items()}
