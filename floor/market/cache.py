"""Prices cached in Postgres with their source and as-of time, and the price book trades fill from.

A cycle gets one batch of prices for the whole universe (:mod:`floor.market.feed`) and stores it
under the cycle's id; every price a trader looks up during that cycle, and every fill, comes from
that cache. A remote market (Polygon) is never asked from here: outside a cycle the book reads the
newest cached price. Outside a cycle the simulated market is asked for a whole batch at most once
per freshness window (:func:`recent_quote`), so lookups and fills do not each add a row.

Cycle prices are kept for good (valuations and the value history read them); prices fetched
outside a cycle are pruned once old (:func:`prune_prices`), except those a fill used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, Engine, String, column, delete, exists, func, insert, select, text, true
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.dialects.postgresql import insert as pg_insert

from floor.clock import Clock, WallClock
from floor.errors import TradeRejected
from floor.ledger.trades import normalize_symbol
from floor.market import DailyClose, MarketData, Quote, RemoteMarket
from floor.schema import daily_close_fetches, daily_closes, prices, transactions

MAX_LOOKBACK_DAYS = 365  # how far back a trader may ask for daily closes
MAX_HISTORY_SYMBOLS = 20  # how many symbols' histories one question may ask for
DEFAULT_QUOTE_FRESHNESS = timedelta(seconds=60)  # QUOTE_CACHE_SECONDS' default


def store_quotes(engine: Engine, quotes: Iterable[Quote], cycle_id: int | None = None) -> list[Quote]:
    """Write quotes to the cache; returns them as stored (with their ``cache_id``).

    A quote's ``fetched_at`` is kept when set (a cached batch reused by a later cycle stays dated
    by its upstream fetch); otherwise the whole write is stamped with one time: one batch.
    """
    with engine.begin() as conn:
        return _store(conn, quotes, cycle_id)


def store_cycle_prices(engine: Engine, quotes: Iterable[Quote], cycle_id: int) -> None:
    """Write a cycle's whole batch, answering nothing back: one short statement run for every row
    (a long multi-row ``INSERT ... RETURNING`` is parsed afresh by the driver each time)."""
    now = datetime.now(UTC)
    rows = [_row(q, cycle_id, now) for q in quotes]
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(prices), rows)


def _row(q: Quote, cycle_id: int | None, now: datetime) -> dict:
    return {
        "symbol": q.symbol,
        "price": q.price,
        "as_of": q.as_of,
        "source": q.source,
        "stale": q.stale,
        "cycle_id": cycle_id,
        "fetched_at": q.fetched_at or now,
    }


def _store(conn: Connection, quotes: Iterable[Quote], cycle_id: int | None) -> list[Quote]:
    now = datetime.now(UTC)
    rows = [_row(q, cycle_id, now) for q in quotes]
    if not rows:
        return []
    return [_quote(row) for row in conn.execute(insert(prices).returning(*prices.c), rows)]


def _quote(row) -> Quote:
    return Quote(
        symbol=row.symbol,
        price=row.price,
        as_of=row.as_of,
        source=row.source,
        stale=row.stale,
        fetched_at=row.fetched_at,
        cache_id=row.id,
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
    with engine.connect() as conn:
        return read_latest_quotes(conn, symbols, source=source)


def read_latest_quotes(
    conn: Connection, symbols: Iterable[str] | None = None, *, source: str | None = None
) -> dict[str, Quote]:
    """:func:`latest_quotes` on a connection the caller holds."""
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
    return {row.symbol: _quote(row) for row in conn.execute(query)}


def read_cycle_quotes(conn: Connection, cycle_id: int, symbols: Iterable[str]) -> dict[str, Quote]:
    """The cycle's cached price of each of ``symbols`` (the last stored, as :func:`cycle_quotes`)."""
    names = sorted(set(symbols))
    if not names:
        return {}
    query = (
        select(prices)
        .distinct(prices.c.symbol)
        .where(prices.c.cycle_id == cycle_id, prices.c.symbol.in_(names))
        .order_by(prices.c.symbol, prices.c.id.desc())
    )
    return {row.symbol: _quote(row) for row in conn.execute(query)}


def latest_batch(engine: Engine, source: str) -> list[Quote]:
    """The newest good (not stale) batch fetched from ``source``: every row of its fetch time."""
    with engine.connect() as conn:
        return _latest_batch(conn, source)


def _latest_batch(conn: Connection, source: str) -> list[Quote]:
    good = (prices.c.source == source) & prices.c.stale.is_(False)
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


def recent_quote(
    engine: Engine, market: MarketData, symbol: str, at: datetime, fresh_for: timedelta
) -> Quote | None:
    """``symbol``'s price in the newest cached batch of ``market`` if fetched within ``fresh_for``
    of ``at``; else one fetch of the whole universe, cached outside any cycle, that answers.

    However many lookups and fills there are outside a cycle, they add at most one batch per
    ``fresh_for`` (and a symbol the batch lacked, once). A transaction-scoped advisory lock per
    source makes concurrent misses wait for the first fetch instead of each storing a batch.
    """
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"quotes:{market.name}"})
        newest = _latest_batch(conn, market.name)
        stamp = newest[0].fetched_at if newest else None
        if stamp is not None and at - stamp <= fresh_for:
            found = next((q for q in newest if q.symbol == symbol), None)
            if found is not None:
                return found
            wanted = [symbol]  # the batch lacks it: add it to that batch
        else:
            stamp, wanted = at, list(dict.fromkeys([*market.universe(), symbol]))
        fetched = market.quotes(wanted, at).values()
        stored = _store(conn, [replace(q, fetched_at=stamp) for q in fetched], None)
        return next((q for q in stored if q.symbol == symbol), None)


def prune_prices(engine: Engine, before: datetime) -> int:
    """Delete prices fetched outside any cycle before ``before``; returns how many went.

    Kept whatever their age: every cycle's prices (what each valuation and snapshot used, and what
    fills in a cycle used), every price a fill names (``transactions.price_id``), and the newest
    price of each symbol from each source, so the newest-price answers (reports, a remote market
    outside a cycle, stale fallbacks) never change by a prune.
    """
    newer = prices.alias("newer")
    superseded = exists().where(
        newer.c.symbol == prices.c.symbol,
        newer.c.source == prices.c.source,
        (newer.c.fetched_at > prices.c.fetched_at)
        | ((newer.c.fetched_at == prices.c.fetched_at) & (newer.c.id > prices.c.id)),
    )
    filled = exists().where(transactions.c.price_id == prices.c.id)
    with engine.begin() as conn:
        statement = delete(prices).where(
            prices.c.cycle_id.is_(None), prices.c.fetched_at < before, superseded, ~filled
        )
        return conn.execute(statement).rowcount


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
    halt, a symbol listed later, or one upstream has nothing for, and asking again would not bring
    them). Every fetch records the range it asked for (``daily_close_fetches``) in the transaction
    that stores its closes; for closes cached before fetches were recorded, a range whose first
    session is cached and whose newest row was fetched after the last session closed answers too.
    A transaction-scoped advisory lock per (source, symbol) makes concurrent misses wait for the
    first fetch instead of each asking upstream.
    """
    from floor.market.calendar import last_closed_session, session_close, sessions_until

    until = min(until, last_closed_session(datetime.now(UTC)))
    wanted = sessions_until(until, days)
    source, key = market.name, symbol.upper()
    first, last, closed = wanted[0], wanted[-1], session_close(wanted[-1])
    cached_rows = (
        select(daily_closes.c.day, daily_closes.c.close, daily_closes.c.fetched_at)
        .where(
            daily_closes.c.symbol == key,
            daily_closes.c.source == source,
            daily_closes.c.day.between(first, last),
        )
        .order_by(daily_closes.c.day)
    )
    covering_fetch = exists().where(
        daily_close_fetches.c.symbol == key,
        daily_close_fetches.c.source == source,
        daily_close_fetches.c.first_day <= first,
        daily_close_fetches.c.last_day >= last,
        daily_close_fetches.c.fetched_at >= closed,
    )
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"history:{source}:{key}"})
        rows = conn.execute(cached_rows).all()
        have = {row.day for row in rows}
        answered = bool(rows) and rows[0].day == first and max(row.fetched_at for row in rows) >= closed
        if have >= set(wanted) or answered or conn.execute(select(covering_fetch)).scalar_one():
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
        recorded = pg_insert(daily_close_fetches).values(
            symbol=key, source=source, first_day=first, last_day=last
        )
        conn.execute(
            recorded.on_conflict_do_update(
                index_elements=["symbol", "source", "first_day", "last_day"], set_={"fetched_at": func.now()}
            )
        )
        return fetched


class PriceBook:
    """The prices a trader sees and trades at: the cycle's cached prices, else the newest cached.

    Only a local market (the simulation) is asked for a price here; a remote one is fetched once
    per cycle by the cycle itself, so traders cause no upstream requests for prices. Every quote
    it answers is a cached row (``cache_id`` set), which a fill records.

    Point in time: it answers only with what was known at its clock's instant. A local market is
    priced at that instant; daily history ends with the last NYSE session closed by then, and a
    history asked to end later is refused (a backtest's clock is a past session's decision time).

    Args:
        fresh_for: Outside a cycle, how long a cached batch of a local market answers before the
            next lookup fetches a new one (QUOTE_CACHE_SECONDS).
        clock: What time it is (the wall clock live).
    """

    def __init__(
        self,
        engine: Engine,
        market: MarketData,
        cycle_id: int | None = None,
        *,
        fresh_for: timedelta = DEFAULT_QUOTE_FRESHNESS,
        clock: Clock | None = None,
    ) -> None:
        self._engine = engine
        self._market = market
        self._cycle_id = cycle_id
        self._fresh_for = fresh_for
        self._clock = clock or WallClock()
        self._cycle_cache: dict[str, Quote] | None = None
        self._remote = isinstance(market, RemoteMarket)

    def now(self) -> datetime:
        """The instant it answers for."""
        return self._clock.now()

    @property
    def source(self) -> str:
        """The name of the market it prices from (the source its cached prices carry)."""
        return self._market.name

    @property
    def cycle_id(self) -> int | None:
        return self._cycle_id

    def knows(self, symbol: str) -> bool:
        return self._market.knows(symbol)

    def resolve(self, symbol: object) -> str:
        """The normalised symbol if this market trades it, else a TradeRejected saying why."""
        cleaned = normalize_symbol(symbol)
        if not self._market.knows(cleaned):
            raise TradeRejected(f"unknown symbol {cleaned}: it is not traded on this floor's market")
        return cleaned

    def resolve_batch(self, symbols: Sequence[object]) -> list[str]:
        """Each symbol of a question about several, normalised, in order; a TradeRejected for the whole
        batch if it is empty, longer than MAX_HISTORY_SYMBOLS, names one twice or names one unknown."""
        if not 1 <= len(symbols) <= MAX_HISTORY_SYMBOLS:
            raise TradeRejected(f"symbols must list 1 to {MAX_HISTORY_SYMBOLS} symbols, got {len(symbols)}")
        cleaned = [self.resolve(symbol) for symbol in symbols]
        repeated = sorted({s for s in cleaned if cleaned.count(s) > 1})
        if repeated:
            raise TradeRejected(f"symbols must be different; listed more than once: {', '.join(repeated)}")
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
        now = self.now()
        if self._cycle_id is None:
            return recent_quote(self._engine, self._market, symbol, now, self._fresh_for)
        fresh = self._market.quotes([symbol], now).get(symbol)
        if fresh is None:
            return None
        [stored] = store_quotes(self._engine, [fresh], self._cycle_id)
        if self._cycle_cache is not None:
            self._cycle_cache[symbol] = stored
        return stored

    def history(self, symbol: str, days: int, until: date | None = None) -> list[DailyClose]:
        """Daily closes of a known symbol, oldest first, at most a year back, ending with ``until``
        (default: the last session closed at the clock's instant; a later day is refused)."""
        from floor.market.calendar import last_closed_session

        if not 1 <= days <= MAX_LOOKBACK_DAYS:
            raise TradeRejected(f"days must be between 1 and {MAX_LOOKBACK_DAYS}, got {days}")
        now = self.now()
        newest = last_closed_session(now)
        if until is None:
            until = newest
        elif until > newest:
            raise TradeRejected(
                f"no close after {newest.isoformat()} is known yet: it is {now:%Y-%m-%d %H:%M} UTC, "
                f"so a history cannot end on {until.isoformat()}"
            )
        if self._remote:
            return cached_history(self._engine, self._market, symbol, days, until)
        return self._market.history(symbol, days, until)


def price_map(quotes: dict[str, Quote]) -> dict[str, Decimal]:
    return {symbol: q.price for symbol, q in quotes.items()}
