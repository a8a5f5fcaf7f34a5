"""The leaderboard's daily Sharpe cell: the interval, or why there is none."""

from __future__ import annotations

from dashboard.panels import daily_sharpe
from floor.portfolio.uncertainty import Estimate, TraderStatistics
from floor.portfolio.views import Standing


def standing(daily: TraderStatistics | None) -> Standing:
    return Standing("Warren Patience", "Warren", 10_000.0, 0.0, 0.0, None, None, 0.0, None, 0, None, None,
                    daily=daily)  # fmt: skip


def statistics(days: int, sharpe: Estimate, too_short: str | None = None) -> TraderStatistics:
    return TraderStatistics(days, too_short, Estimate(0.01), sharpe, None, None, None, None)


def test_the_daily_sharpe_shows_its_interval_or_why_it_has_none():
    assert daily_sharpe(standing(statistics(60, Estimate(1.104, -0.6, 2.896)))) == "1.10 [-0.60, 2.90]"
    short = statistics(12, Estimate(3.2), too_short="12 daily returns; the statistics need at least 30")
    assert daily_sharpe(standing(short)) == "too short (12 of 30 daily returns)"
    assert daily_sharpe(standing(statistics(60, Estimate(None)))) == "no Sharpe: the value never moved"
    assert daily_sharpe(standing(None)) == "–"
