"""The live leaderboard's Sharpe interval: a trader's history reduced to one value a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from floor.ledger.trades import buy
from floor.portfolio import metrics, uncertainty
from floor.portfolio.leaderboard import daily_statistics, daily_values, leaderboard_rows
from floor.portfolio.read_model import read_accounts
from floor.portfolio.value_history import EMPTY_HISTORY, ValueHistory, ValueHistoryCache
from tests.valued_floor import MARKET, value_cycle


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_a_day_is_a_new_york_day_and_keeps_its_last_snapshot():
    history = ValueHistory(
        np.array(
            [
                at("2025-03-03T15:00:00+00:00"),
                at("2025-03-03T20:00:00+00:00"),
                at("2025-03-04T02:00:00+00:00"),  # 21:00 in New York: still March 3rd there
                at("2025-03-04T15:00:00+00:00"),
                at("2025-03-06T15:00:00+00:00"),
            ]
        ),
        np.array([10_010.0, 10_020.0, 10_030.0, 10_040.0, 10_050.0]),
    )
    assert daily_values(history).tolist() == [10_030.0, 10_040.0, 10_050.0]
    assert daily_values(EMPTY_HISTORY).size == 0


def test_the_daily_statistics_are_uncertaintys_over_the_daily_returns_from_the_initial_cash():
    days = 45
    start = at("2025-01-02T15:00:00+00:00")
    times = np.repeat(start + 86_400 * np.arange(days), 2) + np.tile([0, 3600], days)  # two cycles a day
    values = 10_000 * np.cumprod(1 + np.random.default_rng(1).normal(0.001, 0.01, 2 * days))
    found = daily_statistics(ValueHistory(times, values), 10_000)
    expected = uncertainty.trader_statistics(metrics.period_returns([10_000, *values[1::2]]))
    assert found == expected and found.days == days
    assert found.sharpe.low < found.sharpe.value < found.sharpe.high


def test_leaderboard_rows_carry_each_traders_daily_sharpe_and_interval(floor):
    def buy_apple(book, cycle_id):
        buy(floor, "Warren", "AAPL", 50, "cheap", book, idempotency_key="a", cycle_id=cycle_id)

    prices = 100 * np.cumprod(1 + np.random.default_rng(2).normal(0.002, 0.02, 40))
    first = datetime(2025, 1, 2, 15, tzinfo=UTC)
    for day, price in enumerate(prices):
        quoted = {"AAPL": f"{price:.2f}", "SPY": "500"}
        value_cycle(floor, quoted, first + timedelta(days=day), trade=buy_apple if day == 0 else None)
    histories, _ = ValueHistoryCache().read(floor)
    rows = {row["trader"]: row for row in leaderboard_rows(read_accounts(floor, MARKET), {}, histories)}

    warren = rows["Warren"]
    daily = daily_statistics(histories["Warren"], 10_000)
    assert daily.days == 40 and daily.too_short is None
    expected = (daily.sharpe.value, daily.sharpe.low, daily.sharpe.high)
    assert (warren["sharpe"], warren["sharpe_low"], warren["sharpe_high"]) == pytest.approx(expected)
    assert warren["sharpe_low"] < warren["sharpe"] < warren["sharpe_high"] and warren["sharpe_note"] == ""
    george = rows["George"]  # in cash throughout
    assert (george["sharpe"], george["sharpe_low"]) == (None, None) and "never moved" in george["sharpe_note"]
    no_history = leaderboard_rows(read_accounts(floor, MARKET), {})[0]
    assert (
        no_history["sharpe_note"] == "too short (0 of 30 daily returns)" and no_history["sharpe_low"] is None
    )
