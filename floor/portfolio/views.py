"""What the dashboard shows, read from the floor: accounts (the read model,
:mod:`floor.portfolio.read_model`), value histories, the benchmark, the leaderboard, recent cycles
and log lines. Reads only; values are those ``floor report`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Engine, func, select, true

from floor.ledger.risk_book import RiskState, risk_states
from floor.money import INITIAL_CASH
from floor.portfolio import metrics
from floor.portfolio.leaderboard import daily_statistics
from floor.portfolio.read_model import AccountView, read_accounts
from floor.portfolio.uncertainty import TraderStatistics
from floor.portfolio.value_history import BENCHMARK_SYMBOL, EMPTY_HISTORY, ValueHistory, ValueHistoryCache
from floor.runs.cycles import CycleStatus, Usage, usage_by_trader
from floor.schema import accounts, activity_logs, cycles

MARKED_TRADES = 100  # the newest trades of each trader the value charts mark


@dataclass(frozen=True)
class Standing:
    """One row of the leaderboard (a trader, or the benchmark when ``trader`` is None)."""

    label: str
    trader: str | None
    portfolio_value: float
    profit_loss: float
    return_pct: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown_pct: float
    win_rate_pct: float | None
    trades: int
    tokens: int | None
    cost: float | None
    points: int = 0  # values the ratios are computed over (the start and each snapshot)
    annualised: bool = False  # Sharpe and Sortino scaled to a year (a day or more of history)
    daily: TraderStatistics | None = None  # the Sharpe of daily values, with its 95% interval


@dataclass(frozen=True)
class FloorView:
    """Everything the portfolio panels show, read at one moment."""

    read_at: datetime
    accounts: list[AccountView]  # in account order
    histories: dict[str, ValueHistory]
    benchmark: ValueHistory
    standings: list[Standing] = field(default_factory=list)
    risk: dict[str, RiskState] = field(default_factory=dict)


def _standing(label: str, trader: str | None, value: float, start: float, history: ValueHistory) -> dict:
    # Returns start from the initial cash, then follow each snapshot (the benchmark's too).
    series = np.concatenate(([start], history.values))
    returns = metrics.period_returns(series)
    per_year = metrics.periods_per_year(history.times)
    total = metrics.total_return(start, value)
    return {
        "label": label,
        "trader": trader,
        "portfolio_value": value,
        "profit_loss": value - start,
        "return_pct": None if total is None else total * 100,
        "sharpe": metrics.sharpe_ratio(returns, per_year),
        "sortino": metrics.sortino_ratio(returns, per_year),
        "max_drawdown_pct": metrics.max_drawdown(series) * 100,
        "points": int(series.size),
        "annualised": per_year is not None,
        "daily": daily_statistics(history, start),
    }


def floor_view(engine: Engine, source: str, history: ValueHistoryCache | None = None) -> FloorView:
    """Accounts, histories, benchmark and the leaderboard (best return first, benchmark included).

    ``source`` is the configured market's name: holdings are valued at its newest cached prices.
    Pass the same ``history`` cache on every call to read only the snapshots added since.
    """
    views = read_accounts(engine, source, recent=MARKED_TRADES)
    histories, benchmark = (history or ValueHistoryCache()).read(engine)
    usage = usage_by_trader(engine)
    standings = []
    for view in views:
        history = histories.get(view.trader, EMPTY_HISTORY)
        won = view.win_rate
        used = usage.get(view.trader, Usage())
        tokens = used.input_tokens + used.output_tokens
        label = f"{view.trader} {view.lastname}"
        row = _standing(label, view.trader, float(view.value), float(view.initial_cash), history)
        standings.append(
            Standing(
                **row,
                win_rate_pct=None if won.rate is None else won.rate * 100,
                trades=view.trade_count,
                tokens=tokens or None,  # offline models record none
                cost=float(used.cost) if tokens or used.cost else None,
            )
        )
    if len(benchmark):
        start = float(INITIAL_CASH)
        row = _standing(f"{BENCHMARK_SYMBOL} buy & hold", None, float(benchmark.values[-1]), start, benchmark)
        standings.append(Standing(**row, win_rate_pct=None, trades=1, tokens=None, cost=None))
    standings.sort(key=lambda s: (s.return_pct is None, -(s.return_pct or 0.0)))
    return FloorView(datetime.now(UTC), views, histories, benchmark, standings, risk_states(engine))


@dataclass(frozen=True)
class CycleRow:
    id: int
    started_at: datetime
    finished_at: datetime | None
    status: CycleStatus
    forced: bool
    flow_run_id: str | None
    note: str | None


def recent_cycles(engine: Engine, limit: int = 10) -> list[CycleRow]:
    """The newest cycles first."""
    query = select(cycles).order_by(cycles.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [
            CycleRow(r.id, r.started_at, r.finished_at, r.status, r.forced, r.flow_run_id, r.note)
            for r in conn.execute(query)
        ]


@dataclass(frozen=True)
class LogLine:
    id: int
    trader: str
    created_at: datetime
    type: str
    message: str


def _log_query():
    return select(
        activity_logs.c.id,
        accounts.c.name,
        activity_logs.c.created_at,
        activity_logs.c.type,
        activity_logs.c.message,
    ).join(accounts, accounts.c.id == activity_logs.c.account_id)


def recent_log_lines(engine: Engine, per_trader: int) -> list[LogLine]:
    """The newest ``per_trader`` log lines of every trader, oldest first."""
    # One index range scan per trader (ix_activity_logs_account_id_id), however long the log.
    newest = (
        select(activity_logs.c.id)
        .where(activity_logs.c.account_id == accounts.c.id)
        .order_by(activity_logs.c.id.desc())
        .limit(per_trader)
        .lateral()
    )
    ids = select(newest.c.id).select_from(accounts).join(newest, true())
    query = _log_query().where(activity_logs.c.id.in_(ids)).order_by(activity_logs.c.id)
    with engine.connect() as conn:
        return [LogLine(*row) for row in conn.execute(query)]


def log_lines_after(
    engine: Engine, after_id: int, also_ids: list[int] | tuple[int, ...] = (), limit: int = 500
) -> list[LogLine]:
    """Log lines with an id above ``after_id`` (and any of ``also_ids``), oldest first, at most ``limit``."""
    condition = activity_logs.c.id > after_id
    if also_ids:
        condition = condition | activity_logs.c.id.in_(list(also_ids))
    query = _log_query().where(condition).order_by(activity_logs.c.id).limit(limit)
    with engine.connect() as conn:
        return [LogLine(*row) for row in conn.execute(query)]


def newest_log_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(activity_logs.c.id), 0))).scalar_one())
