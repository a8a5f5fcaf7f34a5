"""Past NYSE sessions priced from cached daily closes, for a backtest.

A backtest plays a span of sessions, each at its opening bell, and a trader may ask for a year of
closes on any of them. :func:`prefetch_closes` fills ``daily_closes`` for the whole span once,
one daily-aggregates request per symbol at most (none on a rerun); :class:`ClosesMarket` then
prices every session from that table alone. It is a local market, so the price book asks it
directly, and it never asks upstream: a backtest of a year costs a request per symbol, not one
per session and trader. Its quotes are the free plan's: the close of the last closed session.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy import Engine, String, column, func, select, true
from sqlalchemy.dialects.postgresql import array

from floor.market import DailyClose, MarketData, Quote
from floor.market.cache import MAX_LOOKBACK_DAYS, cached_history
from floor.schema import daily_closes


def prefetch_closes(
    engine: Engine, market: MarketData, symbols: Iterable[str], first: date, last: date
) -> int:
    """Cache every close a trader deciding on a session from ``first`` to ``last`` may ask for:
    ``MAX_LOOKBACK_DAYS`` sessions before ``first`` through ``last``, for each of ``symbols``.

    One ``market.history`` request per symbol the cache cannot answer for the whole range (see
    :func:`floor.market.cache.cached_history`), none for the others. ``last`` is clamped to the
    last session closed now. Returns how many upstream requests were made.

    Raises:
        ValueError: ``first`` is after ``last``, or the market does not know a symbol (before any
            request).
    """
    from floor.market.calendar import last_closed_session, sessions_between

    if first > last:
        raise ValueError(f"first ({first.isoformat()}) is after last ({last.isoformat()})")
    wanted = list(dict.fromkeys(s.upper() for s in symbols))
    unknown = [s for s in wanted if not market.knows(s)]
    if unknown:
        raise ValueError(f"unknown symbols: {', '.join(unknown)}")
    last = min(last, last_closed_session(datetime.now(UTC)))
    span = sessions_between(first, last) if first <= last else []
    counted = _Counted(market)
    for symbol in wanted:
        cached_history(engine, counted, symbol, MAX_LOOKBACK_DAYS + len(span), last)
    return counted.requests


class _Counted:
    """A market whose history requests are counted: what :func:`prefetch_closes` reports."""

    def __init__(self, market: MarketData) -> None:
        self._market = market
        self.name = market.name
        self.requests = 0

    def knows(self, symbol: str) -> bool:
        return self._market.knows(symbol)

    def universe(self) -> list[str]:
        return self._market.universe()

    def quotes(self, symbols: Iterable[str], at: datetime) -> dict[str, Quote]:
        return self._market.quotes(symbols, at)

    def history(self, symbol: str, days: int, until: date) -> list[DailyClose]:
        self.requests += 1
        return self._market.history(symbol, days, until)


class ClosesMarket:
    """``MarketData`` from the ``daily_closes`` cached for ``market``: no request upstream, ever.

    Named as ``market``, so the closes it reads and the prices it hands out carry that source.
    ``engine`` reads the live schema, where :func:`prefetch_closes` cached the closes (a book's
    engine would find none).
    """

    def __init__(self, engine: Engine, market: MarketData) -> None:
        self._engine = engine
        self._market = market
        self.name = market.name

    def knows(self, symbol: str) -> bool:
        return self._market.knows(symbol)

    def universe(self) -> list[str]:
        return self._market.universe()

    def quotes(self, symbols: Iterable[str], at: datetime) -> dict[str, Quote]:
        """The close of the last session closed at ``at`` for each known symbol among ``symbols``.

        A symbol without that close (a halt) gets its newest close before, marked stale; one with
        none cached is left out. ``previous_close`` is the close before it, when cached. One query,
        an index probe per symbol.
        """
        from floor.market.calendar import last_closed_session, session_close

        names = sorted({s.upper() for s in symbols if self.knows(s)})
        if not names:
            return {}
        day = last_closed_session(at)
        wanted = (
            func.unnest(array(names, type_=String))
            .table_valued(column("symbol", String))
            .render_derived(name="wanted")
        )
        latest = (
            select(daily_closes.c.symbol, daily_closes.c.day, daily_closes.c.close)
            .where(
                daily_closes.c.symbol == wanted.c.symbol,
                daily_closes.c.source == self.name,
                daily_closes.c.day <= day,
            )
            .order_by(daily_closes.c.day.desc())
            .limit(2)  # the close and the one before it
            .lateral()
        )
        query = (
            select(latest).select_from(wanted).join(latest, true()).order_by(latest.c.symbol, latest.c.day)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        closes: dict[str, list] = {}
        for row in rows:  # per symbol, oldest first: the close before (if cached), then the close
            closes.setdefault(row.symbol, []).append(row)
        return {
            symbol: Quote(
                symbol,
                newest.close,
                session_close(newest.day),
                self.name,
                stale=newest.day < day,
                previous_close=older[-1].close if older else None,
            )
            for symbol, (*older, newest) in closes.items()
        }

    def history(self, symbol: str, days: int, until: date) -> list[DailyClose]:
        """The cached closes of the last ``days`` sessions up to ``until``, oldest first.

        Raises:
            ValueError: An unknown symbol or ``days`` below 1.
        """
        from floor.market.calendar import sessions_until

        if not self.knows(symbol):
            raise ValueError(f"unknown symbol: {symbol}")
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        sessions = sessions_until(until, days)
        query = (
            select(daily_closes.c.day, daily_closes.c.close)
            .where(
                daily_closes.c.symbol == symbol.upper(),
                daily_closes.c.source == self.name,
                daily_closes.c.day.between(sessions[0], sessions[-1]),
            )
            .order_by(daily_closes.c.day)
        )
        with self._engine.connect() as conn:
            return [DailyClose(day=row.day, close=row.close) for row in conn.execute(query)]
