"""What the dashboard shows, read from the floor: value histories, the benchmark, the leaderboard,
recent cycles and log lines. Reads only; values come from the same functions as ``floor report``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
from sqlalchemy import Engine, Float, func, select, true

from floor import metrics
from floor.cycles import Usage, usage_by_trader
from floor.market import MarketData
from floor.money import INITIAL_CASH
from floor.reports import account_reports
from floor.schema import accounts, activity_logs, cycles, prices, snapshots

BENCHMARK_SYMBOL = "SPY"
_FLOAT = Float(precision=53)


@dataclass(frozen=True)
class ValueHistory:
    """A trader's portfolio value at each snapshot, oldest first (epoch seconds, dollars)."""

    times: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.times.size)


def value_histories(engine: Engine) -> dict[str, ValueHistory]:
    """Every trader's snapshot values in time order, by trader name (traders with none: empty)."""
    # Floats are fine here: these feed ratios and charts, not money. Casting in the query lets
    # the driver hand back plain numbers instead of building a Decimal per row.
    query = select(
        snapshots.c.account_id,
        func.extract("epoch", snapshots.c.taken_at).cast(_FLOAT),
        snapshots.c.portfolio_value.cast(_FLOAT),
    ).order_by(snapshots.c.account_id, snapshots.c.taken_at, snapshots.c.id)
    with engine.connect() as conn:
        names = dict(conn.execute(select(accounts.c.id, accounts.c.name).order_by(accounts.c.id)).all())
        rows = conn.execute(query).all()
    histories: dict[str, ValueHistory] = {}
    if rows:
        data = np.asarray(rows, dtype=float)
        ids = data[:, 0].astype(int)
        for account_id in np.unique(ids):
            part = data[ids == account_id]
            if account_id in names:
                histories[names[account_id]] = ValueHistory(part[:, 1], part[:, 2])
    empty = ValueHistory(np.empty(0), np.empty(0))
    return {name: histories.get(name, empty) for name in names.values()}


def benchmark_history(
    engine: Engine, initial_cash: Decimal = INITIAL_CASH, symbol: str = BENCHMARK_SYMBOL
) -> ValueHistory:
    """Buy-and-hold of ``symbol`` from the first valued cycle, at the prices each cycle cached."""
    valued = (
        select(snapshots.c.cycle_id, func.min(snapshots.c.taken_at).label("taken_at"))
        .where(snapshots.c.cycle_id.is_not(None))
        .group_by(snapshots.c.cycle_id)
        .subquery()
    )
    query = (
        select(
            func.extract("epoch", valued.c.taken_at).cast(_FLOAT),
            func.min(prices.c.price).cast(_FLOAT),
        )
        .join(prices, (prices.c.cycle_id == valued.c.cycle_id) & (prices.c.symbol == symbol))
        .group_by(valued.c.cycle_id, valued.c.taken_at)
        .order_by(valued.c.taken_at)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        return ValueHistory(np.empty(0), np.empty(0))
    data = np.asarray(rows, dtype=float)
    return ValueHistory(data[:, 0], np.asarray(metrics.buy_and_hold(list(data[:, 1]), initial_cash)))


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


@dataclass(frozen=True)
class FloorView:
    """Everything the portfolio panels show, read at one moment."""

    read_at: datetime
    reports: list[dict]  # exactly what ``floor report --json`` prints, in account order
    histories: dict[str, ValueHistory]
    benchmark: ValueHistory
    standings: list[Standing] = field(default_factory=list)


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
    }


def floor_view(engine: Engine, market: MarketData) -> FloorView:
    """Reports, histories, benchmark and the leaderboard (best return first, benchmark included)."""
    reports = account_reports(engine, market)
    histories = value_histories(engine)
    benchmark = benchmark_history(engine)
    usage = usage_by_trader(engine)
    standings = []
    for report in reports:
        start = report["portfolio_value"] - report["profit_loss"]
        history = histories.get(report["name"], ValueHistory(np.empty(0), np.empty(0)))
        won = metrics.win_rate(report["transactions"])
        used = usage.get(report["name"], Usage())
        label = f"{report['name']} {report['lastname']}"
        row = _standing(label, report["name"], report["portfolio_value"], start, history)
        standings.append(
            Standing(
                **row,
                win_rate_pct=None if won.rate is None else won.rate * 100,
                trades=len(report["transactions"]),
                tokens=used.input_tokens + used.output_tokens if used.turns else None,
                cost=float(used.cost) if used.turns else None,
            )
        )
    if len(benchmark):
        start = float(INITIAL_CASH)
        row = _standing(f"{BENCHMARK_SYMBOL} buy & hold", None, float(benchmark.values[-1]), start, benchmark)
        standings.append(Standing(**row, win_rate_pct=None, trades=1, tokens=None, cost=None))
    standings.sort(key=lambda s: (s.return_pct is None, -(s.return_pct or 0.0)))
    return FloorView(datetime.now(UTC), reports, histories, benchmark, standings)


@dataclass(frozen=True)
class CycleRow:
    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
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
