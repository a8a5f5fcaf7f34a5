"""A year's backtest priced from Polygon: the real flow, the real massive client, a fake server on loopback.

Every symbol of the universe has a year and a half of closes upstream (a deterministic walk; ETHA
is listed only in March 2025, inside the span). The first backtest asks each symbol's daily
aggregates once and nothing else; a second, identical one asks nothing at all, and both leave the
same ledger, every fill at the close of the session before it.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from floor.backtest.records import find_backtest
from floor.books import book_engine, list_books
from floor.market.cache import MAX_LOOKBACK_DAYS
from floor.market.calendar import session_open, sessions_between, sessions_until
from floor.market.universe import INSTRUMENTS
from floor.money import buy_fill, sell_fill
from floor.schema import cycles, daily_close_fetches, transactions
from tests.fakes.polygon_server import KINDS, PolygonServer

pytestmark = pytest.mark.slow  # two backtests of a year, through Prefect

KEY = "test-polygon-key"
FIRST, LAST = date(2025, 1, 2), date(2025, 12, 31)
SPAN = sessions_between(FIRST, LAST)
# What a trader deciding on any session of the span may ask for: a year before FIRST through LAST.
SERVED = sessions_until(LAST, MAX_LOOKBACK_DAYS + len(SPAN))
LATE = {"ETHA": date(2025, 3, 3)}  # listed inside the span: no bar before that day
SYMBOLS = [instrument.symbol for instrument in INSTRUMENTS]


def walk() -> dict[date, dict[str, float]]:
    """Each symbol's closes on every served session: a random walk of its own seed and volatility."""
    days: dict[date, dict[str, float]] = {day: {} for day in SERVED}
    for instrument in INSTRUMENTS:
        steps = random.Random(instrument.symbol)
        daily_vol = instrument.annual_vol / math.sqrt(252)
        level = instrument.base_price
        for day in SERVED:
            level *= math.exp(steps.gauss(instrument.annual_drift / 252, daily_vol))
            if day >= LATE.get(instrument.symbol, day):
                days[day][instrument.symbol] = max(round(level, 2), 0.5)
    return days


CLOSES = walk()


@pytest.fixture
def polygon():
    with PolygonServer(api_key=KEY) as server:
        for day, closes in CLOSES.items():
            server.set_closes(day, closes)
        yield server


@pytest.fixture
def polygon_floor(runtime, polygon, monkeypatch):
    """The tasks' wiring for a free Polygon plan on the fake server, books played on threads."""
    for name, value in {
        "POLYGON_API_KEY": KEY,
        "POLYGON_PLAN": "free",
        "POLYGON_BASE_URL": polygon.base_url,
        "POLYGON_BACKOFF_SECONDS": "0.01",
        "POLYGON_RETRIES": "2",
        "BACKTEST_WORKERS": "0",
        "FLOOR_MODEL": "offline",
    }.items():
        monkeypatch.setenv(name, value)
    for cached in (runtime.settings, runtime.engine, runtime.market):
        cached.cache_clear()
    assert runtime.settings().polygon_base_url == polygon.base_url
    return runtime


def run_backtest() -> tuple[dict, float]:
    from flows.backtest import backtest

    started = time.monotonic()
    done = asyncio.run(backtest(FIRST, LAST, traders=["Ray"]))
    return done, time.monotonic() - started


def ledger(engine, backtest_id: int) -> dict[str, list[tuple]]:
    """Each book's transactions (by trader and seed), in order, with the session each was made in."""
    found = {}
    for book in list_books(engine, backtest_id):
        query = (
            select(
                transactions.c.symbol,
                transactions.c.side,
                transactions.c.quantity,
                transactions.c.price,
                transactions.c.total,
                transactions.c.created_at,
                cycles.c.session,
            )
            .join(cycles, cycles.c.id == transactions.c.cycle_id)
            .order_by(transactions.c.id)
        )
        with book_engine(engine, book).connect() as conn:
            found[f"{book.trader}-{book.seed}"] = [tuple(row) for row in conn.execute(query)]
    return found


def test_a_year_of_polygon_closes_is_fetched_once_and_a_rerun_asks_nothing(
    polygon_floor, floor, polygon
) -> None:
    first, took_first = run_backtest()
    assert first["status"] == "completed" and first["sessions"] == len(SPAN) == 250
    assert polygon.count("aggs") == polygon.count() <= len(SYMBOLS)
    assert {kind: polygon.count(kind) for kind in KINDS if kind != "aggs"} == dict.fromkeys(
        (k for k in KINDS if k != "aggs"), 0
    )  # no grouped daily, snapshot, last trade or market status: the sessions read the cache alone
    assert sorted(r.path.split("/")[4] for r in polygon.requests) == sorted(SYMBOLS)
    assert all(r.status == 200 for r in polygon.requests)
    with floor.connect() as conn:
        fetched = conn.execute(select(daily_close_fetches.c.symbol, daily_close_fetches.c.first_day)).all()
    assert sorted(fetched) == sorted((s, SERVED[0]) for s in SYMBOLS)

    polygon.reset_counts()
    second, took_second = run_backtest()
    assert second["status"] == "completed" and second["backtest"] != first["backtest"]
    assert polygon.count() == 0  # not one request: ETHA's missing months included

    made = ledger(floor, first["backtest"])
    assert list(made) == ["Ray-1"]
    assert made == {"Ray-1": ledger(floor, second["backtest"])["Ray-1"]}
    trades = made["Ray-1"]
    assert len(trades) > 20, "a risk-parity book should trade and rebalance over a year"
    assert {symbol for symbol, *_ in trades} <= set(SYMBOLS)
    for symbol, side, quantity, price, total, created_at, session in trades:
        [before, _] = sessions_until(session, 2)
        close = Decimal(str(CLOSES[before][symbol]))  # the last close known at the opening bell
        assert price == (buy_fill(close) if side == "buy" else sell_fill(close)), (session, symbol, side)
        assert total == price * quantity
        assert created_at == session_open(session)

    for done in (first, second):
        results = find_backtest(floor, done["backtest"]).results
        assert results is not None and results["sessions"] == len(SPAN)
        [ray] = results["traders"]
        assert ray["trader"] == "Ray" and ray["sessions"] == len(SPAN) and ray["trades"] == len(trades)
    assert first["results"]["traders"][0]["equity"] == second["results"]["traders"][0]["equity"]
    print(f"one-year backtests: {took_first:.1f} s (fetching), {took_second:.1f} s (cached)")
