"""Backtests through the real flow: books of their own, the live floor untouched, identical reruns,
no look-ahead for a model that tries, and a killed run that resumes to the same ledger."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select, text

from floor.backtest.records import find_backtest, list_backtests
from floor.books import Book, book_engine, list_books
from floor.ledger.trades import buy
from floor.market.calendar import session_open, sessions_between
from floor.schema import (
    accounts,
    activity_logs,
    backtests,
    books,
    cycles,
    metadata,
    positions,
    snapshots,
    transactions,
)
from tests.fakes.openai_server import OpenAIServer, final_answer, tool_call
from tests.fixed_prices import SetPrices

pytestmark = pytest.mark.slow  # whole backtests through Prefect

START, END = date(2025, 3, 3), date(2025, 3, 21)  # 15 sessions
SESSIONS = sessions_between(START, END)
BACKTEST_ONLY = {backtests.name, books.name}


@pytest.fixture
def backtesting(runtime, monkeypatch):
    """The flow's wiring with books played on threads of this process (one test spawns workers)."""
    monkeypatch.setenv("BACKTEST_WORKERS", "0")
    for cached in (runtime.settings, runtime.engine, runtime.market):
        cached.cache_clear()
    return runtime


def run_backtest(**arguments) -> dict:
    from flows.backtest import backtest

    return asyncio.run(backtest(**{"start": START, "end": END, **arguments}))


def live_rows(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table of the live floor but the list of backtests and books."""
    with engine.connect() as conn:
        return {
            table.name: [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
            for table in metadata.sorted_tables
            if table.name not in BACKTEST_ONLY
        }


def ledger(engine: Engine, book: Book) -> dict:
    """A book's ledger as compared across runs: every fill, position and account, without row ids."""
    bound = book_engine(engine, book)
    with bound.connect() as conn:
        fills = conn.execute(
            select(
                transactions.c.symbol, transactions.c.side, transactions.c.quantity, transactions.c.price,
                transactions.c.total, transactions.c.rationale, transactions.c.created_at, cycles.c.session,
            )
            .join(cycles, cycles.c.id == transactions.c.cycle_id)
            .order_by(cycles.c.session, transactions.c.id)
        ).all()  # fmt: skip
        held = conn.execute(
            select(positions.c.symbol, positions.c.shares, positions.c.cost).order_by("symbol")
        ).all()
        account = conn.execute(
            select(accounts.c.name, accounts.c.cash, accounts.c.strategy, accounts.c.next_turn)
        ).all()
        values = conn.execute(
            select(cycles.c.session, snapshots.c.taken_at, snapshots.c.portfolio_value)
            .join(cycles, cycles.c.id == snapshots.c.cycle_id)
            .order_by(cycles.c.session)
        ).all()
    return {"fills": fills, "positions": held, "accounts": account, "values": values}


def test_a_backtest_replays_every_session_in_books_of_its_own_and_leaves_the_live_floor_alone(
    backtesting, floor
):
    buy(floor, "Warren", "AAPL", 3, "a live trade", SetPrices({"AAPL": "200"}), idempotency_key="live-1")
    before = live_rows(floor)
    result = run_backtest(traders=["Warren", "Ray"], label="March")
    assert live_rows(floor) == before  # the live floor's every row, byte for byte

    record = find_backtest(floor, result["backtest"])
    assert record.status == "completed" and record.spec.traders == ("Warren", "Ray")
    made = list_books(floor, record.id)
    assert [(b.trader, b.seed) for b in made] == [("Warren", 1), ("Ray", 1)]
    for book in made:
        rows = ledger(floor, book)
        assert [day for day, _, _ in rows["values"]] == SESSIONS  # one valuation per session, in order
        assert all(taken == session_open(day) for day, taken, _ in rows["values"])  # dated by the session
        assert all(fill.created_at == session_open(fill.session) for fill in rows["fills"])
        assert [a.name for a in rows["accounts"]] == [book.trader]
    ray = ledger(floor, made[1])
    assert ray["fills"], "risk parity invests from its first session"

    results = record.results
    assert {t["trader"] for t in results["traders"]} == {"Warren", "Ray"}
    for figures in results["traders"]:
        assert figures["sessions"] == len(SESSIONS) and len(figures["equity"]) == len(SESSIONS)
        for name in ("return", "sharpe", "sortino", "max_drawdown", "turnover", "cost"):
            assert isinstance(figures[name], float), (name, figures[name])
        assert figures["turns"] == {"succeeded": len(SESSIONS)}
    assert set(results["benchmarks"]) == {"SPY buy and hold", "equal weight"}
    assert isinstance(results["benchmarks"]["SPY buy and hold"]["return"], float)


def test_the_same_backtest_twice_leaves_identical_ledgers(backtesting, floor):
    first = run_backtest(traders=["Ray", "Cathie"])
    second = run_backtest(traders=["Ray", "Cathie"])
    one, two = list_books(floor, first["backtest"]), list_books(floor, second["backtest"])
    assert [ledger(floor, b) for b in one] == [ledger(floor, b) for b in two]
    assert sum(len(ledger(floor, b)["fills"]) for b in one) > 5
    strip = lambda r: [{k: v for k, v in t.items() if k != "book"} for t in r["traders"]]  # noqa: E731
    assert strip(first["results"]) == strip(second["results"])


def test_a_stopped_backtest_resumes_after_its_last_finished_session(backtesting, floor):
    from tasks import backtest as tasks

    seen = []

    def stop_after_five(progress) -> None:
        seen.append(progress.done)
        if progress.done == 5:
            tasks.stop_requested.set()

    tasks.progress_listeners.append(stop_after_five)
    try:
        stopped = run_backtest(traders=["Ray"])
    finally:
        tasks.progress_listeners.remove(stop_after_five)
    record = find_backtest(floor, stopped["backtest"])
    assert record.status == "stopped" and record.results["traders"][0]["sessions"] == 5
    resumed = run_backtest(resume=record.id)
    assert resumed["backtest"] == record.id and find_backtest(floor, record.id).status == "completed"
    straight = run_backtest(traders=["Ray"])
    [book] = list_books(floor, record.id)
    [again] = list_books(floor, straight["backtest"])
    assert ledger(floor, book) == ledger(floor, again)


def test_a_model_that_asks_for_the_future_is_refused_every_time_and_earns_nothing(
    backtesting, floor, monkeypatch
):
    """A scripted LLM trader asks, each session, for that session's close, tomorrow's bars and a
    price; it would buy only if it learnt a close it should not know. Every tool answer is scanned."""
    stamp = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")

    def peeking(request) -> dict:
        today = date.fromisoformat(re.search(r"Time: (\d{4}-\d{2}-\d{2})", request.prompt_text()).group(1))
        tomorrow = sessions_between(today, date(2025, 12, 31))[1]
        plan = [
            tool_call("get_price_history", {"symbol": "AAPL", "days": 5, "end": today.isoformat()}),
            tool_call("get_price_histories", {"symbols": ["AAPL", "MSFT"], "end": tomorrow.isoformat()}),
            tool_call("lookup_share_price", {"symbol": "AAPL"}),
            tool_call("get_price_history", {"symbol": "AAPL", "days": 3}),
        ]
        asked = sum(1 for m in request.messages if m["role"] == "assistant")
        if asked < len(plan):
            return plan[asked]
        if f'"day": "{today.isoformat()}"' in request.prompt_text():  # it learnt the session's own close
            return tool_call(
                "buy_shares", {"symbol": "AAPL", "quantity": 10, "rationale": "I know today's close."}
            )
        return final_answer("Nothing known about today's close; no trade.")

    with OpenAIServer(default=peeking) as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-backtest-not-a-key")
        for cached in (backtesting.settings, backtesting.engine, backtesting.market):
            cached.cache_clear()
        result = run_backtest(end=date(2025, 3, 7), traders=["Warren"], model="openai/gpt-4o-mini")
        requests = list(llm.requests)
    assert result["status"] == "completed"
    offered = {name for r in requests for name in r.tool_names}
    assert offered <= {
        "get_balance",
        "get_holdings",
        "buy_shares",
        "sell_shares",
        "change_strategy",
        "get_transactions",
        "lookup_share_price",
        "get_price_history",
        "get_price_histories",
        "is_market_open",
        "final_answer",
    }, offered  # fmt: skip  (no web search, fetch, researcher or push in a backtest)
    assert "This is a backtest" in requests[0].prompt_text()
    [book] = list_books(floor, result["backtest"])
    bound = book_engine(floor, book)
    with bound.connect() as conn:
        told = activity_logs.c.message.contains("[observation]") | activity_logs.c.message.contains("[error]")
        observed = conn.execute(
            select(cycles.c.session, activity_logs.c.message)
            .join(cycles, cycles.c.id == activity_logs.c.cycle_id)
            .where(told)
            .order_by(activity_logs.c.id)
        ).all()
    sessions = {day for day, _ in observed}
    assert sessions == set(sessions_between(START, date(2025, 3, 7)))
    refusals = [m for _, m in observed if "no close after" in m]
    assert len(refusals) == 2 * len(sessions)  # both questions about the future, every session
    for day, message in observed:
        # Not data: the exchange's published schedule, and a refusal quoting the day it was asked for.
        unquoted = re.sub(r'"next_(?:open|close)": "[^"]*"|cannot end on \S+', "", message)
        for found in stamp.findall(unquoted):
            assert date.fromisoformat(found) <= day, (day, message[:300])
        assert not re.search(rf'"day": "{day.isoformat()}"', message), "the session's own close leaked"
    rows = ledger(floor, book)
    assert rows["fills"] == [] and rows["accounts"][0].cash == 10_000


def test_a_killed_backtest_resumes_in_worker_processes_to_the_ledger_of_an_uninterrupted_one(
    prefect_api, floor, database_url, tmp_path
):
    """``floor backtest`` killed with SIGKILL mid-way (its workers mid-session), then resumed."""
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "DATABASE_URL": database_url,
        "BACKTEST_WORKERS": "2",
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
    }
    span = ["--start", START.isoformat(), "--end", END.isoformat(), "--trader", "Ray", "--trader", "Cathie"]
    command = [sys.executable, "-m", "deployments.cli", "backtest"]
    child = subprocess.Popen([*command, *span], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = _completed_sessions(floor)
        if done >= 8:
            break
        assert child.poll() is None, child.stderr.read().decode()[-3000:]
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)  # the CLI and its worker processes, wherever they were
    child.wait(timeout=30)
    [killed] = list_backtests(floor)
    assert killed.status == "running" and 8 <= _completed_sessions(floor) < 2 * len(SESSIONS)

    resumed = subprocess.run([*command, "resume", str(killed.id)], env=env, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Backtest {killed.id}" in resumed.stdout and "completed" in resumed.stdout
    straight = subprocess.run([*command, *span], env=env, capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr[-3000:]
    second = max(b.id for b in list_backtests(floor))
    assert [ledger(floor, b) for b in list_books(floor, killed.id)] == [
        ledger(floor, b) for b in list_books(floor, second)
    ]
    shown = subprocess.run(
        [*command, "show", str(killed.id), "--json"], env=env, capture_output=True, text=True
    )
    results = json.loads(shown.stdout)["results"]
    assert [t["sessions"] for t in results["traders"]] == [len(SESSIONS)] * 2


def _completed_sessions(engine: Engine) -> int:
    with engine.connect() as conn:
        schemas = conn.execute(select(books.c.schema_name)).scalars().all()
        return sum(
            conn.execute(text(f"SELECT count(*) FROM \"{s}\".cycles WHERE status = 'completed'")).scalar_one()
            for s in schemas
        )


def test_backtest_show_json_carries_intervals_psr_and_dsr_or_says_too_short(backtesting, floor, database_url):
    from floor.portfolio.uncertainty import MIN_RETURNS

    year_start = run_backtest(start=date(2025, 1, 2), end=date(2025, 2, 19), traders=["Ray", "Cathie"])  # 32
    short = run_backtest(end=date(2025, 3, 7), traders=["Ray"])  # 5 sessions
    env = {**os.environ, "DATABASE_URL": database_url}

    def show(backtest_id: int, *json_flag: str) -> str:
        done = subprocess.run([sys.executable, "-m", "deployments.cli", "backtest", "show", str(backtest_id),
                               *json_flag], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    results = json.loads(show(year_start["backtest"], "--json"))["results"]
    for trader in results["traders"]:
        stats = trader["statistics"]
        assert stats["days"] == 32 > MIN_RETURNS and stats["too_short"] is None
        for name in ("return", "sharpe", "excess_return"):
            assert stats[name]["low"] < stats[name]["value"] < stats[name]["high"], (name, stats)
        assert stats["return"]["value"] == pytest.approx(trader["return"])
        assert 0 <= stats["dsr"] < stats["psr"] <= 1 and stats["block_length"] >= 1
    assert results["pairwise"]["labels"] == ["Ray", "Cathie"]
    [[none, ray_beats], [cathie_beats, also_none]] = results["pairwise"]["beats"]
    assert none is None is also_none and ray_beats + cathie_beats == pytest.approx(1)
    spy = results["benchmarks"]["SPY buy and hold"]["equity"]
    assert [day for day, _ in spy] == [day for day, _ in results["traders"][0]["equity"]]
    assert "stationary-bootstrap" in results["method"]
    table = show(year_start["backtest"])
    assert "Who beats whom" in table and "Intervals are not computed" not in table

    results = json.loads(show(short["backtest"], "--json"))["results"]
    [stats] = [t["statistics"] for t in results["traders"]]
    assert stats["days"] == 5 and "5 daily returns" in stats["too_short"]
    assert stats["sharpe"]["low"] is None and (stats["psr"], stats["dsr"]) == (None, None)
    assert results["pairwise"]["beats"] == [[None]]
    assert f"too short (5 of {MIN_RETURNS})" in show(short["backtest"])


def assert_refused(cases: list[tuple[list[str], str]], env: dict[str, str]) -> None:
    """Each ``floor backtest`` command line of ``cases`` exits 2 with its message, in one line."""
    for arguments, message in cases:
        done = subprocess.run([sys.executable, "-m", "deployments.cli", "backtest", *arguments], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 2 and message in done.stderr, (arguments, done.stderr)
        assert "Traceback" not in done.stderr


def test_the_cli_refuses_a_bad_backtest_before_anything_starts(floor, database_url):
    env = {**os.environ, "DATABASE_URL": database_url}
    cases = [
        (["--start", "2025-03-10", "--end", "2025-03-03"], "is after end"),
        (["--start", "2025-03-08", "--end", "2025-03-09"], "no NYSE session"),
        (["--start", "2025-03-03", "--end", f"{datetime.now(UTC).year + 1}-01-10"], "replays the past"),
        (["--start", "2025-03-03", "--end", "2025-03-07", "--trader", "Nobody"], "no trader named"),
        (["--start", "2025-3-3", "--end", "2025-03-07"], "YYYY-MM-DD"),
        (["--start", "2025-03-03"], "needs --start and --end"),
        (["show"], "needs the backtest's ID"),
    ]
    assert_refused(cases, env)
    assert list_backtests(floor) == []
    missing = subprocess.run([sys.executable, "-m", "deployments.cli", "backtest", "show", "99"], env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert missing.returncode == 2 and "no backtest 99" in missing.stderr
