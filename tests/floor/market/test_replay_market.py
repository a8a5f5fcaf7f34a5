"""A backtest's market: a year of Polygon closes fetched once per symbol, then read from the cache."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from floor.clock import SessionClock
from floor.market import MarketData, RemoteMarket
from floor.market.cache import MAX_LOOKBACK_DAYS, PriceBook
from floor.market.calendar import (
    last_closed_session,
    session_close,
    session_open,
    sessions_between,
    sessions_until,
)
from floor.market.replay import ClosesMarket, prefetch_closes
from floor.schema import daily_close_fetches, daily_closes
from tests.fakes.polygon_server import PolygonServer
from tests.floor.market.test_polygon import KEY, market_for, ny

FIRST, LAST = date(2025, 1, 2), date(2025, 12, 31)
BASE = {"AAPL": 200.0, "MSFT": 400.0, "SPY": 550.0, "GLD": 220.0, "QQQ": 470.0, "IBIT": 40.0}
SYMBOLS = ["AAPL", "MSFT", "SPY", "GLD"]
HALT = date(2025, 6, 9)  # GLD has no bar that day: a halt
# What a trader deciding on any session of the span may ask for: a year before FIRST through LAST.
WANTED = sessions_until(LAST, MAX_LOOKBACK_DAYS + len(sessions_between(FIRST, LAST)))


def close_of(symbol: str, day: date) -> float:
    return round(BASE[symbol] + (day - date(2023, 1, 1)).days * 0.01, 2)


@pytest.fixture
def polygon():
    with PolygonServer(api_key=KEY) as server:
        for day in sessions_until(LAST, len(WANTED) + 20):  # more than wanted: nothing earlier is asked
            server.set_closes(day, {s: close_of(s, day) for s in BASE if not (s == "GLD" and day == HALT)})
        yield server


@pytest.fixture
def prefetched(engine, polygon):
    assert prefetch_closes(engine, market_for(polygon), SYMBOLS, FIRST, LAST) == len(SYMBOLS)
    polygon.reset_counts()
    return ClosesMarket(engine, market_for(polygon))


def cached_days(engine, symbol: str) -> list[date]:
    query = select(daily_closes.c.day).where(daily_closes.c.symbol == symbol).order_by(daily_closes.c.day)
    with engine.connect() as conn:
        return list(conn.scalars(query))


def test_a_year_is_fetched_with_one_request_per_symbol_and_a_rerun_asks_nothing(engine, polygon) -> None:
    market = market_for(polygon)
    assert WANTED[MAX_LOOKBACK_DAYS] == FIRST and WANTED[-1] == LAST

    assert prefetch_closes(engine, market, ["aapl", "MSFT", "SPY", "GLD", "AAPL"], FIRST, LAST) == 4
    assert polygon.count("aggs") == polygon.count() == 4
    asked = sorted(r.path.split("/")[4] for r in polygon.requests)
    assert asked == sorted(SYMBOLS)
    assert {tuple(r.path.split("/")[-2:]) for r in polygon.requests} == {(str(WANTED[0]), str(LAST))}
    for symbol in ("AAPL", "MSFT", "SPY"):
        assert cached_days(engine, symbol) == WANTED
    assert cached_days(engine, "GLD") == [d for d in WANTED if d != HALT]

    # A rerun, a part of the span, and the halted symbol: all answered by the cache.
    assert prefetch_closes(engine, market, SYMBOLS, FIRST, LAST) == 0
    assert prefetch_closes(engine, market, ["GLD", "SPY"], date(2025, 3, 3), date(2025, 6, 30)) == 0
    assert polygon.count() == 4
    # Only a symbol not cached yet is asked for.
    assert prefetch_closes(engine, market, [*SYMBOLS, "QQQ"], FIRST, LAST) == 1
    assert polygon.count("aggs") == 5 and polygon.requests[-1].path.split("/")[4] == "QQQ"


def test_a_late_listed_symbol_and_one_without_data_upstream_are_asked_once(engine, polygon) -> None:
    listed = date(2025, 3, 3)  # IBIT's first bar is inside the span; FBTC has none at all upstream
    for day, closes in polygon.closes.items():
        closes.pop("IBIT", None)
        if day >= listed:
            closes["IBIT"] = close_of("IBIT", day)
    market = market_for(polygon)

    assert prefetch_closes(engine, market, ["IBIT", "FBTC", "AAPL"], FIRST, LAST) == 3
    assert polygon.count("aggs") == polygon.count() == 3
    assert cached_days(engine, "IBIT") == [d for d in WANTED if d >= listed]
    assert cached_days(engine, "FBTC") == []
    with engine.connect() as conn:
        recorded = conn.execute(
            select(
                daily_close_fetches.c.symbol,
                daily_close_fetches.c.source,
                daily_close_fetches.c.first_day,
                daily_close_fetches.c.last_day,
            )
        ).all()
    assert sorted(recorded) == [(s, "polygon-free", WANTED[0], LAST) for s in ("AAPL", "FBTC", "IBIT")]

    # A rerun, and a part of the span: the recorded fetches answer, missing rows and all.
    assert prefetch_closes(engine, market, ["IBIT", "FBTC", "AAPL"], FIRST, LAST) == 0
    assert prefetch_closes(engine, market, ["IBIT", "FBTC"], date(2025, 2, 3), date(2025, 6, 30)) == 0
    assert polygon.count() == 3

    # A range reaching before the recorded one is not covered by it: asked once more, then cached.
    earlier = date(2024, 12, 2)
    assert prefetch_closes(engine, market, ["IBIT", "FBTC"], earlier, LAST) == 2
    assert prefetch_closes(engine, market, ["IBIT", "FBTC"], earlier, LAST) == 0
    assert polygon.count("aggs") == polygon.count() == 5


def test_a_fetch_made_before_the_last_session_closed_does_not_answer(engine, polygon) -> None:
    market = market_for(polygon)
    assert prefetch_closes(engine, market, ["FBTC"], FIRST, LAST) == 1  # nothing upstream
    with engine.begin() as conn:  # as if that fetch had been made during the last session
        conn.execute(daily_close_fetches.update().values(fetched_at=session_close(LAST) - timedelta(hours=1)))
    assert prefetch_closes(engine, market, ["FBTC"], FIRST, LAST) == 1
    assert prefetch_closes(engine, market, ["FBTC"], FIRST, LAST) == 0  # the new fetch answers
    assert polygon.count("aggs") == 2
    with engine.connect() as conn:
        [stamp] = conn.execute(select(daily_close_fetches.c.fetched_at)).scalars().all()
    assert stamp >= session_close(LAST)


def test_an_unknown_symbol_is_refused_before_any_request(engine, polygon) -> None:
    with pytest.raises(ValueError, match="ZZZZ"):
        prefetch_closes(engine, market_for(polygon), ["AAPL", "ZZZZ"], FIRST, LAST)
    with pytest.raises(ValueError, match="after"):
        prefetch_closes(engine, market_for(polygon), ["AAPL"], LAST, FIRST)
    assert polygon.count() == 0


def test_it_is_a_local_market_named_as_the_one_it_wraps(engine, polygon) -> None:
    wrapped = market_for(polygon)
    market = ClosesMarket(engine, wrapped)
    assert isinstance(market, MarketData) and not isinstance(market, RemoteMarket)
    assert market.name == wrapped.name == "polygon-free"
    assert market.universe() == wrapped.universe() and market.knows("aapl") and not market.knows("ZZZZ")


def test_quotes_at_the_opening_bell_are_the_previous_sessions_closes(prefetched, polygon) -> None:
    at = session_open(date(2025, 6, 10))  # a backtest's decision time on Tuesday 10 June
    quotes = prefetched.quotes(["aapl", "MSFT", "GLD"], at)

    aapl = quotes["AAPL"]
    assert aapl.price == Decimal(str(close_of("AAPL", HALT)))  # Monday's close
    assert aapl.previous_close == Decimal(str(close_of("AAPL", date(2025, 6, 6))))  # Friday's
    assert (aapl.as_of, aapl.source, aapl.stale) == (session_close(HALT), "polygon-free", False)
    assert quotes["MSFT"].price == Decimal(str(close_of("MSFT", HALT)))
    # Halted on Monday: its last close, Friday's, dated and marked as such.
    gld = quotes["GLD"]
    assert (gld.price, gld.as_of, gld.stale) == (
        Decimal(str(close_of("GLD", date(2025, 6, 6)))),
        session_close(date(2025, 6, 6)),
        True,
    )
    assert polygon.count() == 0


def test_history_ends_with_the_last_closed_session_from_the_cache_alone(engine, prefetched, polygon) -> None:
    day = date(2025, 6, 10)
    closes = prefetched.history("AAPL", MAX_LOOKBACK_DAYS, last_closed_session(session_open(day)))
    assert [c.day for c in closes] == sessions_until(HALT, MAX_LOOKBACK_DAYS)
    assert all(c.close == Decimal(str(close_of("AAPL", c.day))) for c in closes)
    assert [c.day for c in prefetched.history("GLD", 3, HALT)] == [date(2025, 6, 5), date(2025, 6, 6)]

    # The price book of a session's decision: point in time, and never upstream.
    book = PriceBook(engine, prefetched, clock=SessionClock(day))
    assert book.history("AAPL", 5)[-1].day == HALT
    quote = book.quote("AAPL")
    assert quote is not None and quote.price == Decimal(str(close_of("AAPL", HALT))) and quote.cache_id
    assert polygon.count() == 0


@pytest.mark.parametrize(
    ("at", "session"),
    [
        (session_open(date(2025, 1, 2)), date(2024, 12, 31)),  # the span's first decision
        (ny(2025, 6, 10, 15, 59), date(2025, 6, 9)),  # a minute before the close
        (ny(2025, 6, 10, 16, 0), date(2025, 6, 10)),  # the close minute has closed
        (ny(2025, 6, 14, 12, 0), date(2025, 6, 13)),  # Saturday: Friday
        (ny(2025, 11, 28, 12, 59), date(2025, 11, 26)),  # Black Friday before its 13:00 close
        (ny(2025, 11, 28, 13, 0), date(2025, 11, 28)),
        (ny(2026, 1, 2, 9, 30), LAST),  # after the span: its last close
    ],
)
def test_nothing_is_dated_after_the_instant_asked(prefetched, polygon, at: datetime, session: date) -> None:
    quotes = prefetched.quotes(["AAPL", "SPY"], at)
    assert {q.as_of for q in quotes.values()} == {session_close(session)}
    assert all(q.as_of <= at for q in quotes.values())
    closes = prefetched.history("SPY", 30, last_closed_session(at))
    assert closes[-1].day == session and all(session_close(c.day) <= at for c in closes)
    assert polygon.count() == 0


def test_a_symbol_without_a_cached_close_is_left_out(prefetched, polygon) -> None:
    at = session_open(date(2025, 6, 10))
    assert set(prefetched.quotes(["AAPL", "QQQ", "TSLA", "ZZZZ"], at)) == {"AAPL"}  # QQQ: not prefetched
    assert prefetched.quotes(["AAPL"], session_open(WANTED[0])) == {}  # before the first cached close
    assert prefetched.history("QQQ", 30, HALT) == []
    with pytest.raises(ValueError, match="unknown symbol"):
        prefetched.history("ZZZZ", 30, HALT)
    assert polygon.count() == 0


def test_quotes_of_the_whole_universe_are_one_query(prefetched, engine) -> None:
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        quotes = prefetched.quotes(
            prefetched.universe(), session_open(date(2025, 6, 10)) + timedelta(hours=1)
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(prefetched.universe()) >= 40 and set(quotes) == set(SYMBOLS)
    assert len(statements) == 1
