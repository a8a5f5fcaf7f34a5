"""Performance metrics on numbers small enough to check by hand."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from floor.portfolio import metrics


def test_period_returns_are_simple_returns_between_consecutive_values():
    assert metrics.period_returns([100, 110, 99]) == pytest.approx([0.10, -0.10])
    assert metrics.period_returns([100]).size == 0


def test_total_return():
    assert metrics.total_return(10_000, 10_250) == pytest.approx(0.025)
    assert metrics.total_return(0, 5) is None


def test_sharpe_is_mean_over_sample_deviation_scaled_by_root_periods():
    # mean 0.02, sample std of (0.01, 0.03) = 0.0141421 -> 1.41421; four periods a year doubles it
    assert metrics.sharpe_ratio([0.01, 0.03]) == pytest.approx(math.sqrt(2))
    assert metrics.sharpe_ratio([0.01, 0.03], per_year=4) == pytest.approx(2 * math.sqrt(2))


def test_sharpe_is_undefined_without_variation_or_data():
    assert metrics.sharpe_ratio([0.01]) is None
    assert metrics.sharpe_ratio([0.01, 0.01, 0.01]) is None


def test_sortino_divides_by_downside_deviation_only():
    # mean 0.01; downside = sqrt((0.01^2 + 0.02^2) / 4) = sqrt(0.000125) = 0.0111803
    assert metrics.sortino_ratio([0.03, -0.01, 0.04, -0.02]) == pytest.approx(0.01 / math.sqrt(0.000125))
    assert metrics.sortino_ratio([0.03, -0.01, 0.04, -0.02], per_year=9) == pytest.approx(
        3 * 0.01 / math.sqrt(0.000125)
    )


def test_sortino_is_undefined_with_no_losing_period():
    assert metrics.sortino_ratio([0.01, 0.02]) is None


def test_max_drawdown_is_largest_fall_from_a_running_peak():
    assert metrics.max_drawdown([100, 120, 90, 130, 117]) == pytest.approx(0.25)
    assert metrics.max_drawdown([100, 101, 102]) == 0.0
    assert metrics.max_drawdown([]) == 0.0


def test_win_rate_compares_each_sell_with_the_average_cost():
    trades = [
        {"side": "sell", "symbol": "KO", "quantity": 3, "price": 60.0},  # nothing bought yet: ignored
        {"side": "buy", "symbol": "AAPL", "quantity": 10, "price": 10.0},
        {"side": "buy", "symbol": "AAPL", "quantity": 10, "price": 20.0},  # average cost 15
        {"side": "sell", "symbol": "AAPL", "quantity": 5, "price": 16.0},  # win
        {"side": "sell", "symbol": "AAPL", "quantity": 5, "price": 14.0},  # loss
        {"side": "sell", "symbol": "AAPL", "quantity": 10, "price": 15.0},  # break-even is no win
    ]
    result = metrics.win_rate(trades)
    assert (result.wins, result.closed) == (1, 3)
    assert result.rate == pytest.approx(1 / 3)
    assert metrics.win_rate([]).rate is None


def test_buy_and_hold_buys_whole_shares_with_the_spread_and_keeps_the_rest():
    # fill 500 x 1.002 = 501.00 -> 19 shares (9,519.00), 481.00 cash
    values = metrics.buy_and_hold([500, 510, 505], Decimal("10000.00"))
    assert values == pytest.approx([9981.0, 10171.0, 10076.0])
    assert metrics.buy_and_hold([], Decimal("10000.00")) == []


def test_periods_per_year_from_the_history_itself():
    hourly_two_days = np.arange(49) * 3600.0
    assert metrics.periods_per_year(hourly_two_days) == pytest.approx(365.25 * 24)
    assert metrics.periods_per_year(np.arange(5) * 3600.0) is None  # under a day
    assert metrics.periods_per_year([0.0]) is None


def test_downsample_keeps_ends_lows_and_highs_within_the_budget():
    x = np.arange(10_000, dtype=float)
    y = np.sin(x / 500.0) * 100 + x / 100
    y[1234] = -1_000  # a crash must survive
    y[8765] = 1_000  # and a spike
    xs, ys = metrics.downsample(x, y, 200)
    assert xs.size <= 200
    assert xs[0] == 0 and xs[-1] == 9_999
    assert -1_000 in ys and 1_000 in ys
    assert np.all(np.diff(xs) > 0)


def test_downsample_leaves_short_series_alone_and_refuses_tiny_budgets():
    xs, ys = metrics.downsample([1, 2, 3], [4, 5, 6], 10)
    assert list(xs) == [1, 2, 3] and list(ys) == [4, 5, 6]
    with pytest.raises(ValueError):
        metrics.downsample([1, 2, 3], [4, 5, 6], 3)
