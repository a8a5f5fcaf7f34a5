"""Backtests for the backtests page: one played by the real code, and results with statistics.

``play_backtest`` creates a short offline backtest and plays every book session by session with the
real books, tools, turns and ledger (as ``tests/floor/test_backtest_sessions.py`` does), then
stores :func:`floor.backtest.results.backtest_results` with it. ``with_statistics`` gives those
results the statistics keys (intervals, PSR, DSR, excess over SPY, the training-data mark, the
pairwise matrix, benchmark curves) in the shape :mod:`floor.backtest.results` stores them, with
figures chosen by hand so a test can check every cell; ``without_statistics`` strips them again,
as a backtest stored before they were computed has none.
"""

from __future__ import annotations

import copy
from datetime import date

from sqlalchemy import Engine

from floor.backtest.records import create_backtest, ensure_books, find_backtest, plan_backtest, set_status
from floor.backtest.results import backtest_results
from floor.backtest.sessions import play_book
from floor.books import book_engine
from floor.market.calendar import sessions_between
from floor.market.simulated import SimulatedMarket
from floor.settings import Settings
from floor.traders import find_trader, load_traders
from servers.in_process import BookTools

SESSIONS = sessions_between(date(2025, 6, 2), date(2025, 6, 11))  # 8 sessions
METHOD = "Intervals: stationary block bootstrap of daily returns, 2,000 resamples (test fixture)."

# Hand-picked statistics, by row: full intervals, a too-short row, a row without bounds.
STATISTICS = [
    {
        "days": 7,
        "too_short": None,
        "return": {"value": 0.081, "low": -0.05, "high": 0.21},
        "sharpe": {"value": 1.1, "low": -0.6, "high": 2.9},
        "excess_return": {"value": 0.02, "low": -0.03, "high": 0.07},
        "psr": 0.83,
        "dsr": 0.41,
        "block_length": 4.2,
    },
    {
        "days": 7,
        "too_short": "7 daily returns: intervals need at least 20",
        "return": {"value": 0.01, "low": None, "high": None},
        "sharpe": {"value": 0.3, "low": None, "high": None},
        "excess_return": None,
        "psr": None,
        "dsr": None,
        "block_length": None,
    },
    {
        "days": 7,
        "too_short": None,
        "return": {"value": -0.034, "low": None, "high": None},
        "sharpe": {"value": -0.52, "low": None, "high": None},
        "excess_return": None,
        "psr": 0.2,
        "dsr": None,
        "block_length": None,
    },
]
TRAINING = [
    {"model": "openai/gpt-4.1-mini", "cutoff": "2025-06-30", "inside": True},
    {"model": "deepseek/deepseek-chat", "cutoff": None, "inside": None},
    {"model": "offline", "cutoff": None, "inside": False},
]
BEATS = [0.62, 0.91, 0.55]  # the first row over each other row; every other pair is a coin toss


def play_backtest(
    engine: Engine, settings: Settings, traders: list[str], *, seeds: int = 1, label: str = ""
) -> int:
    """Create, play and complete an offline backtest of ``SESSIONS``; its id."""
    profiles = load_traders(settings)
    spec = plan_backtest(profiles, SESSIONS[0], SESSIONS[-1], traders=traders, seeds=seeds, label=label)
    record = create_backtest(engine, spec)
    market = SimulatedMarket()
    for book in ensure_books(engine, record, profiles):
        tools = BookTools(settings, market, book.schema)
        try:
            profile = find_trader(profiles, book.trader)
            play_book(book_engine(engine, book), settings, profile, market, SESSIONS, tools)
        finally:
            tools.close()
    results = backtest_results(engine, find_backtest(engine, record.id), settings)
    set_status(engine, record.id, "completed", results=results)
    return record.id


def without_statistics(results: dict) -> dict:
    """The results as a backtest stored before statistics were computed holds them."""
    old = copy.deepcopy(results)
    for key in ("pairwise", "method"):
        old.pop(key, None)
    for trader in old["traders"]:
        trader.pop("statistics", None)
        trader.pop("training_data", None)
    for benchmark in old["benchmarks"].values():
        benchmark.pop("equity", None)
        benchmark.pop("statistics", None)
    return old


def with_statistics(results: dict) -> dict:
    """The results with hand-picked statistics on the first three rows (the rest get the first's),
    training-data marks (inside, unknown, outside), a pairwise matrix and benchmark curves."""
    new = without_statistics(results)
    seeds = new.get("seeds") or 1
    labels = []
    for i, trader in enumerate(new["traders"]):
        trader["statistics"] = copy.deepcopy(STATISTICS[min(i, len(STATISTICS) - 1)])
        trader["training_data"] = copy.deepcopy(TRAINING[min(i, len(TRAINING) - 1)])
        trader["model"] = trader["training_data"]["model"]
        labels.append(trader["trader"] if seeds == 1 else f"{trader['trader']} (seed {trader['seed']})")
    days = [day for day, _ in new["traders"][0]["equity"]]
    for i, benchmark in enumerate(new["benchmarks"].values()):
        benchmark["equity"] = [[day, 10_000.0 + (i + 1) * 10 * n] for n, day in enumerate(days)]
    n = len(labels)
    beats: list[list[float | None]] = [[None] * n for _ in range(n)]
    chances = iter(BEATS + [0.5] * n * n)
    for i in range(n):
        for j in range(i + 1, n):
            beats[i][j] = next(chances)
            beats[j][i] = round(1 - beats[i][j], 4)
    new["pairwise"] = {"labels": labels, "beats": beats}
    new["method"] = METHOD
    return new


def store_backtest(
    engine: Engine, settings: Settings, results: dict | None, *, status: str = "completed", label: str = ""
) -> int:
    """A backtest row of the same span holding ``results`` as given (no books: the page reads none)."""
    profiles = load_traders(settings)
    traders = [t["trader"] for t in (results or {}).get("traders", [])] or ["Warren"]
    seeds = (results or {}).get("seeds") or 1
    unique = list(dict.fromkeys(traders))
    spec = plan_backtest(profiles, SESSIONS[0], SESSIONS[-1], traders=unique, seeds=seeds, label=label)
    record = create_backtest(engine, spec)
    if status != "running" or results is not None:
        set_status(engine, record.id, status, results=results)
    return record.id
