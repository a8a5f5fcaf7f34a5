"""Wall time of a one-year offline backtest (252 sessions x 4 traders), beside the live cycles it replaces.

Everything real: the ``backtest`` flow on a Prefect server started here as ``prefect server
start`` with its data in Postgres (a fresh database on --postgres), the floor's ledger in embedded
Postgres, every session a real smolagents turn of an offline trader acting through the MCP tools
(in-memory sessions to servers of its book), its books played in worker processes (BACKTEST_WORKERS,
default one per core) and, beside it, on threads of one process (``--workers 0``).

Beside it, the live cycle of the same four traders on the same Prefect server (median of
--cycles runs): a year of live cycles is 252 of those, one per trading day.

Then an LLM trader (``openai/gpt-4o-mini`` through litellm) on an OpenAI-compatible server on
127.0.0.1 that counts each request's prompt tokens with litellm's tokenizer: prompt tokens, model
calls and dollars per simulated session, over --llm-sessions sessions.

    python bench/backtest_speed.py [--repeat 3] [--workers default 0] [--cycles 5] [--llm-sessions 20]
        [--postgres postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the loopback model lives in tests/fakes

from cycle_scaling import fresh_database  # noqa: E402 - bench/ is the script's own directory

START, END = date(2025, 1, 2), date(2025, 12, 31)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", nargs="+", default=["default", "0"], help="BACKTEST_WORKERS values")
    parser.add_argument("--cycles", type=int, default=5, help="live cycles to take the median of")
    parser.add_argument("--llm-sessions", type=int, default=20)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--port", type=int, default=4233)
    args = parser.parse_args()

    from deployments.serve import prefect_server

    workdir = Path(tempfile.mkdtemp(prefix="floor-bench-backtest-"))
    os.environ["DATA_DIR"] = str(workdir / "pg")
    os.environ.pop("DATABASE_URL", None)
    with prefect_server(args.port, database_url=fresh_database(args.postgres, "floor_bench_backtest")) as api:
        os.environ["PREFECT_API_URL"] = api
        cycle_s = live_cycle(args.cycles)
        rows = [backtest_run(workers, args.repeat) for workers in args.workers]
        llm = llm_sessions(args.llm_sessions)
    report(cycle_s, rows, llm, args)


def reload_runtime() -> None:
    from tasks import runtime

    for cached in (runtime.settings, runtime.engine, runtime.market):
        cached.cache_clear()


def live_cycle(repeat: int) -> float:
    """Median wall time of one live cycle of the four default traders (after one untimed)."""
    from floor.database import connect
    from floor.ledger.accounts import reset_accounts
    from floor.settings import Settings
    from floor.traders import load_traders
    from flows.trading_cycle import trading_cycle

    settings = Settings()
    reset_accounts(connect(settings), load_traders(settings))
    times = []
    for i in range(repeat + 1):
        start = time.perf_counter()
        result = asyncio.run(trading_cycle(force=True))
        assert result["status"] == "completed" and not result["failed"], result
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def backtest_run(workers: str, repeat: int) -> dict:
    """Median wall time of the one-year backtest with BACKTEST_WORKERS=``workers``."""
    from sqlalchemy import func, select

    from floor.books import book_engine, list_books
    from floor.database import connect
    from floor.schema import transactions, turns
    from floor.settings import Settings
    from flows.backtest import backtest

    if workers == "default":
        os.environ.pop("BACKTEST_WORKERS", None)
    else:
        os.environ["BACKTEST_WORKERS"] = workers
    reload_runtime()
    engine = connect(Settings())
    times, steps, trades, sessions = [], [], [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = asyncio.run(backtest(start=START, end=END))
        times.append(time.perf_counter() - start)
        assert result["status"] == "completed", result
        sessions = result["sessions"]
        books = list_books(engine, result["backtest"])
        calls = made = 0
        for book in books:
            with book_engine(engine, book).connect() as conn:
                calls += conn.execute(select(func.sum(turns.c.steps))).scalar_one()
                made += conn.execute(select(func.count()).select_from(transactions)).scalar_one()
        steps.append(calls)
        trades.append(made)
        print(f"    workers={workers}: {times[-1]:.1f} s, {len(books)} books x {sessions}", flush=True)
    from tasks.backtest import SessionRunner

    return {
        "workers": SessionRunner.count(len(books)),
        "seconds": statistics.median(times),
        "runs": times,
        "sessions": sessions * len(books),
        "model_calls": statistics.median(steps),
        "trades": statistics.median(trades),
    }


def scripted(request) -> dict:
    """Research, buy one share of SPY, answer: three calls per session, as an LLM trader might."""
    from tests.fakes.openai_server import final_answer, tool_call

    done = sum(1 for m in request.messages if m["role"] == "assistant")  # calls made so far
    if done == 0:
        return tool_call("get_price_histories", {"symbols": ["SPY", "AAPL", "MSFT"], "days": 20})
    if done == 1:
        order = {"symbol": "SPY", "quantity": 1, "rationale": "A share of the market."}
        return tool_call("buy_shares", order)
    return final_answer("Bought one share of SPY; the rest in cash.")


def llm_sessions(n: int) -> dict:
    """Prompt tokens, model calls and dollars per session of an LLM trader on the loopback model."""
    from sqlalchemy import func, select

    from floor.books import book_engine, list_books
    from floor.database import connect
    from floor.market.calendar import sessions_between
    from floor.settings import Settings
    from flows.backtest import backtest
    from tests.fakes.openai_server import OpenAIServer

    last = sessions_between(START, END)[n - 1]
    with OpenAIServer(default=scripted, prompt_tokens="count") as llm:
        os.environ.update(
            {
                "OPENAI_BASE_URL": llm.base_url,
                "OPENAI_API_KEY": "sk-bench-not-a-key",
                "BACKTEST_WORKERS": "0",
            }
        )
        reload_runtime()
        start = time.perf_counter()
        result = asyncio.run(backtest(start=START, end=last, traders=["Warren"], model="openai/gpt-4o-mini"))
        seconds = time.perf_counter() - start
        requests = len(llm.requests)
    engine = connect(Settings())
    from floor.schema import turns

    [book] = list_books(engine, result["backtest"])
    with book_engine(engine, book).connect() as conn:
        tokens_in, tokens_out, cost = conn.execute(
            select(func.sum(turns.c.input_tokens), func.sum(turns.c.output_tokens), func.sum(turns.c.cost))
        ).one()
    return {
        "sessions": n,
        "seconds": seconds,
        "requests": requests,
        "input_tokens": int(tokens_in),
        "output_tokens": int(tokens_out),
        "cost": float(cost),
        "status": result["status"],
    }


def report(cycle_s: float, rows: list[dict], llm: dict, args) -> None:
    print()
    print(f"One year ({START} to {END}) x 4 offline traders, median of {args.repeat}, cpus: {os.cpu_count()}")
    print(f"  live: one cycle of the 4 traders {cycle_s:.2f} s (median of {args.cycles}); 252 cycles = "
          f"{cycle_s * 252:.0f} s of cycles, a year of trading days by the clock")  # fmt: skip
    for row in rows:
        where = f"{row['workers']} worker processes" if row["workers"] else "threads of one process"
        print(
            f"  backtest on {where}: {row['seconds']:.1f} s ({', '.join(f'{t:.1f}' for t in row['runs'])}), "
            f"{row['sessions']} sessions, {row['sessions'] / row['seconds']:.1f} sessions/s, "
            f"{row['model_calls']:.0f} model calls, {row['trades']:.0f} trades; "
            f"{cycle_s * 252 / row['seconds']:.1f}x faster than 252 live cycles"
        )
    print(
        f"  LLM trader (openai/gpt-4o-mini on a loopback server), {llm['sessions']} sessions: "
        f"{llm['input_tokens'] / llm['sessions']:.0f} prompt tokens, {llm['requests'] / llm['sessions']:.1f} "
        f"model calls and ${llm['cost'] / llm['sessions']:.5f} per session "
        f"(${llm['cost'] / llm['sessions'] * 252:.3f} a year of sessions); {llm['seconds']:.1f} s in all"
    )
    print(json.dumps({"live_cycle_s": cycle_s, "backtests": rows, "llm": llm}))


if __name__ == "__main__":
    main()
