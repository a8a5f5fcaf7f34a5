"""Who is winning: one row per trader, best portfolio first, with the Sharpe's 95% interval.

The interval comes from the trader's value history (:mod:`floor.portfolio.value_history`) reduced
to one value a day, the last snapshot of each New York day, after the initial cash: the same daily
returns and the same functions (:mod:`floor.portfolio.uncertainty`) a backtest's results use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from floor.market.calendar import NEW_YORK
from floor.money import cents
from floor.portfolio import metrics, uncertainty
from floor.portfolio.read_model import AccountView
from floor.portfolio.uncertainty import TraderStatistics
from floor.portfolio.value_history import EMPTY_HISTORY, ValueHistory
from floor.runs.cycles import TurnOutcome


def daily_values(history: ValueHistory) -> np.ndarray:
    """The last value of each New York day the history has a snapshot on, oldest first."""
    if not len(history):
        return np.empty(0)
    local = pd.to_datetime(history.times, unit="s", utc=True).tz_convert(NEW_YORK).tz_localize(None)
    days = local.to_numpy().astype("datetime64[D]")
    last = np.append(days[1:] != days[:-1], True)  # the times are in order: a day's last is before a change
    return history.values[last]


def daily_statistics(history: ValueHistory, initial_cash: float) -> TraderStatistics:
    """The trader's statistics over its daily returns, the first from ``initial_cash``."""
    values = np.concatenate(([float(initial_cash)], daily_values(history)))
    return uncertainty.trader_statistics(metrics.period_returns(values))


def sharpe_note(statistics: TraderStatistics) -> str:
    """Why the Sharpe has no interval ("too short (3 of 30 daily returns)"), or "" when it has one."""
    if statistics.too_short:
        return f"too short ({statistics.days} of {uncertainty.MIN_RETURNS} daily returns)"
    if statistics.sharpe.low is None:
        return "no Sharpe: the value never moved"
    return ""


def leaderboard_rows(
    views: list[AccountView],
    outcomes: dict[str, TurnOutcome],
    histories: dict[str, ValueHistory] | None = None,
) -> list[dict]:
    """Rows for a table: rank, trader, value, P&L, return, the daily Sharpe annualised with its 95%
    interval (from ``histories``, by trader), cash, positions, and the turn's result."""
    ranked = sorted(views, key=lambda v: v.value, reverse=True)
    rows = []
    for rank, v in enumerate(ranked, start=1):
        invested = v.initial_cash
        outcome = outcomes.get(v.trader)
        daily = daily_statistics((histories or {}).get(v.trader, EMPTY_HISTORY), float(v.initial_cash))
        rows.append(
            {
                "rank": rank,
                "trader": v.trader,
                "portfolio_value": float(v.value),
                "profit_loss": float(v.profit_loss),
                "return_pct": float(cents(v.profit_loss * 100 / invested)) if invested else 0.0,
                "sharpe": daily.sharpe.value,
                "sharpe_low": daily.sharpe.low,
                "sharpe_high": daily.sharpe.high,
                "sharpe_note": sharpe_note(daily),
                "cash": float(v.cash),
                "positions": len(v.holdings),
                "unpriced": ", ".join(v.unpriced),
                "turn": outcome.status if outcome else "not run",
                "steps": outcome.steps if outcome else 0,
                "tokens": (outcome.input_tokens + outcome.output_tokens) if outcome else 0,
                "cost_usd": float(outcome.cost) if outcome else 0.0,
                "note": (outcome.error or "") if outcome else "",
            }
        )
    return rows
