"""A backtest's statistics from its books' equity curves, without a database."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from floor.backtest.results import add_statistics, daily_returns
from floor.portfolio import uncertainty

DAYS = [(date(2025, 1, 1) + timedelta(days=i)).isoformat() for i in range(60)]


def curve(seed: int, drift: float = 0.001, days: list[str] = DAYS) -> list[list]:
    """An equity curve from $10,000 before the first session: [[day, value], ...]."""
    returns = np.random.default_rng(seed).normal(drift, 0.01, len(days))
    values = 10_000 * np.cumprod(1 + returns)
    return [[day, float(v)] for day, v in zip(days, values, strict=True)]


def book(trader: str, seed: int, equity: list[list]) -> dict:
    return {"trader": trader, "seed": seed, "equity": equity}


def test_daily_returns_start_from_the_initial_cash():
    assert daily_returns([["2025-01-02", 10_100.0], ["2025-01-03", 9_999.0]]) == {
        "2025-01-02": pytest.approx(0.01),
        "2025-01-03": pytest.approx(-0.01),
    }


def test_every_book_gets_its_statistics_against_spy_and_the_other_books():
    traders = [book("Warren", 1, curve(1)), book("Warren", 2, curve(2)), book("Ray", 1, curve(3, 0.004))]
    spy = curve(4)
    pairwise = add_statistics(traders, {"SPY buy and hold": {"equity": spy}}, seeds=2)
    returns = [list(daily_returns(t["equity"]).values()) for t in traders]
    trials = [uncertainty.per_day_sharpe(r) for r in returns]
    for trader, mine in zip(traders, returns, strict=True):
        expected = uncertainty.trader_statistics(mine, list(daily_returns(spy).values()), trials)
        assert trader["statistics"] == expected.to_json()
        assert trader["statistics"]["dsr"] < trader["statistics"]["psr"]  # three books were tried
    assert pairwise["labels"] == ["Warren (seed 1)", "Warren (seed 2)", "Ray (seed 1)"]
    beats = pairwise["beats"]
    assert [beats[i][i] for i in range(3)] == [None, None, None]
    assert beats[2][0] == pytest.approx(uncertainty.beat_probability(returns[2], returns[0]))
    assert beats[2][0] > 0.9 and beats[0][2] == pytest.approx(1 - beats[2][0])


def test_without_spy_there_is_no_excess_and_a_short_book_is_too_short():
    traders = [book("Warren", 1, curve(1)), book("Ray", 1, curve(3, days=DAYS[:10]))]
    pairwise = add_statistics(traders, {}, seeds=1)
    warren, ray = (t["statistics"] for t in traders)
    assert warren["excess_return"] is None and warren["sharpe"]["low"] is not None
    assert ray["days"] == 10 and ray["too_short"] == uncertainty.too_short(10) and ray["psr"] is None
    assert pairwise == {"labels": ["Warren", "Ray"], "beats": [[None, None], [None, None]]}
