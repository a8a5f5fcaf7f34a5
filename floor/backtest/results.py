"""A backtest's results: each book's equity curve and metrics, beside SPY and an equal-weight universe.

Every figure comes from the books' own rows (snapshots, transactions, turns, each session's cached
prices) through the floor's metric functions (:mod:`floor.portfolio.metrics`), annualised at 252
sessions a year. The benchmarks are bought at the first session's prices, with the same spread and
whole shares a trader gets, and held: SPY alone, and the whole universe in equal parts.

Each trader's figures also come with their uncertainty (:mod:`floor.portfolio.uncertainty`), from the
book's daily returns (the equity curve starts at $10,000 before the first session): intervals for
the return, the Sharpe and the excess over SPY, PSR and DSR (every book of the backtest is a trial),
and the probability that each book's Sharpe beats each other's.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlalchemy import Engine, func, select

from floor.agents.training_cutoffs import training_mark
from floor.backtest.records import Backtest, book_label
from floor.books import Book, book_engine, list_books
from floor.money import INITIAL_CASH
from floor.portfolio import metrics, uncertainty
from floor.schema import cycles, model_calls, prices, snapshots, transactions, turns
from floor.settings import Settings

SESSIONS_PER_YEAR = 252
TRADE_COLUMNS = ("side", "symbol", "quantity", "price", "total")  # what win rate and turnover read
BENCHMARK = "SPY"


def _figures(values: list[float]) -> dict:
    returns = metrics.period_returns(values)
    return {
        "return": metrics.total_return(values[0], values[-1]) if values else None,
        "sharpe": metrics.sharpe_ratio(returns, SESSIONS_PER_YEAR),
        "sortino": metrics.sortino_ratio(returns, SESSIONS_PER_YEAR),
        "max_drawdown": metrics.max_drawdown(values) if values else None,
        "final_value": values[-1] if values else None,
    }


def book_results(engine: Engine, book: Book) -> dict:
    """One book's trader: equity curve (from $10,000 before the first session) and its metrics."""
    with engine.connect() as conn:
        curve = conn.execute(
            select(cycles.c.session, snapshots.c.portfolio_value)
            .join(cycles, cycles.c.id == snapshots.c.cycle_id)
            .where(cycles.c.status == "completed")
            .order_by(cycles.c.session)
        ).all()
        trades = [
            row._asdict()
            for row in conn.execute(
                select(*(transactions.c[name] for name in TRADE_COLUMNS)).order_by(transactions.c.id)
            )
        ]
        usage = conn.execute(
            select(
                func.coalesce(func.sum(turns.c.cost), 0),
                func.coalesce(func.sum(turns.c.input_tokens), 0),
                func.coalesce(func.sum(turns.c.output_tokens), 0),
            )
        ).one()
        statuses = Counter(
            dict(conn.execute(select(turns.c.status, func.count()).group_by(turns.c.status)).all())
        )
        model = conn.execute(select(turns.c.model).limit(1)).scalar_one_or_none()
        provider_calls = conn.execute(select(func.count()).select_from(model_calls)).scalar_one()
    values = [float(INITIAL_CASH)] + [float(v) for _, v in curve]
    traded = sum(float(t["total"]) for t in trades)
    wins = metrics.win_rate(trades)
    return {
        "book": book.id,
        "trader": book.trader,
        "seed": book.seed,
        "model": model,
        "sessions": len(curve),
        **_figures(values),
        "win_rate": wins.rate,
        "closed_trades": wins.closed,
        "trades": len(trades),
        "turnover": traded / (sum(values) / len(values)),
        "cost": float(Decimal(usage[0])),
        "input_tokens": int(usage[1]),
        "output_tokens": int(usage[2]),
        "turns": dict(sorted(statuses.items())),
        "provider_calls": provider_calls,  # recorded here; a replay's books make none
        "equity": [[day.isoformat(), float(v)] for day, v in curve],
    }


def session_prices(engine: Engine) -> tuple[list, dict[str, list[float]]]:
    """The book's completed sessions, and each symbol's price at every one of them, in session order
    (symbols priced at every session only)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(cycles.c.session, prices.c.symbol, prices.c.price)
            .join(cycles, cycles.c.id == prices.c.cycle_id)
            .where(cycles.c.status == "completed")
            .order_by(cycles.c.session, prices.c.symbol, prices.c.id)
        ).all()
    days = sorted({row.session for row in rows})
    by_symbol: dict[str, dict] = {}
    for row in rows:
        by_symbol.setdefault(row.symbol, {})[row.session] = float(row.price)
    series = {s: [seen[d] for d in days] for s, seen in by_symbol.items() if len(seen) == len(days)}
    return days, series


def benchmark_results(engine: Engine) -> dict:
    """SPY bought and held, and the universe in equal parts, at a book's session prices."""
    days, series = session_prices(engine)
    found = {}
    if BENCHMARK in series:
        found[f"{BENCHMARK} buy and hold"] = metrics.buy_and_hold(series[BENCHMARK], INITIAL_CASH)
    if series:
        found["equal weight"] = metrics.equal_weight(series, INITIAL_CASH)
    return {
        name: {
            **_figures([float(INITIAL_CASH), *values]),
            "equity": [[day.isoformat(), v] for day, v in zip(days, values, strict=True)],
        }
        for name, values in found.items()
    }


def daily_returns(equity: list[list]) -> dict[str, float]:
    """Session -> that session's simple return, from an equity curve that starts at $10,000."""
    values = [float(INITIAL_CASH)] + [value for _, value in equity]
    returns = metrics.period_returns(values)
    return {day: float(r) for (day, _), r in zip(equity, returns, strict=True)}


def add_statistics(traders: list[dict], benchmarks: dict, seeds: int) -> dict:
    """Put each trader's ``statistics`` in place; returns the pairwise "who beats whom" matrix."""
    by_book = [daily_returns(t["equity"]) for t in traders]
    spy = benchmarks.get(f"{BENCHMARK} buy and hold")
    spy_returns = daily_returns(spy["equity"]) if spy else None
    trials = [uncertainty.per_day_sharpe(list(returns.values())) for returns in by_book]
    for trader, returns in zip(traders, by_book, strict=True):
        benchmark = None
        if spy_returns is not None and all(day in spy_returns for day in returns):
            benchmark = [spy_returns[day] for day in returns]
        found = uncertainty.trader_statistics(list(returns.values()), benchmark, trials)
        trader["statistics"] = found.to_json()
    return {"labels": [book_label(t, seeds) for t in traders], "beats": uncertainty.beat_matrix(by_book)}


def backtest_results(engine: Engine, backtest: Backtest, settings: Settings) -> dict:
    """Every book's results and the benchmarks, as stored with the backtest and shown by the CLI.

    Each trader's ``training_data`` says whether the span starts before its model's training
    cutoff (:mod:`floor.agents.training_cutoffs`; ``settings`` holds the user's cutoffs).
    """
    books = list_books(engine, backtest.id)
    traders = [book_results(book_engine(engine, book), book) for book in books]
    for trader in traders:
        model = trader["model"] or backtest.spec.model
        mark = training_mark(model, backtest.spec.start, settings) if model else None
        trader["training_data"] = mark.to_json() if mark else {"model": None, "cutoff": None, "inside": None}
    # Every book prices the same sessions; the one that played most of them prices the benchmarks.
    longest = max(zip(books, traders, strict=True), key=lambda pair: pair[1]["sessions"], default=None)
    benchmarks = benchmark_results(book_engine(engine, longest[0])) if longest else {}
    pairwise = add_statistics(traders, benchmarks, backtest.spec.seeds)
    return {
        "backtest": backtest.id,
        "label": backtest.spec.label,
        "start": backtest.spec.start.isoformat(),
        "end": backtest.spec.end.isoformat(),
        "sessions": len(backtest.sessions),
        "seeds": backtest.spec.seeds,
        "traders": traders,
        "benchmarks": benchmarks,
        "pairwise": pairwise,
        "method": uncertainty.METHOD,
        "cost": sum(t["cost"] for t in traders),
        "replay_of": backtest.replay_of,
    }
