"""An LLM backtest recorded, then replayed from its recording: wall time, provider requests, storage.

Everything real: the ``backtest`` flow on a Prefect server started here as ``prefect server
start`` with its data in Postgres (a fresh database on --postgres), the floor's ledger in embedded
Postgres, four traders on ``openai/gpt-4o-mini`` through litellm and smolagents, against an
OpenAI-compatible server on 127.0.0.1 that answers at once (three calls a session; prompt tokens
counted with litellm's tokenizer). Each round records a backtest of --sessions sessions and then
replays it (``replay=ID``), side by side; medians of --repeat rounds. The loopback model answers in
about a millisecond, so the recorded run's time is the floor's own work: a provider's seconds per
call come on top of it, and a replay never pays them.

    python bench/backtest_replay.py [--repeat 3] [--sessions 20] [--postgres postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the loopback model lives in tests/fakes

from backtest_speed import START, reload_runtime, scripted  # noqa: E402 - bench/ is the script's own directory
from cycle_scaling import fresh_database  # noqa: E402

MODEL = "openai/gpt-4o-mini"


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--port", type=int, default=4234)
    args = parser.parse_args()

    from deployments.serve import prefect_server
    from floor.market.calendar import sessions_between
    from tests.fakes.openai_server import OpenAIServer

    workdir = Path(tempfile.mkdtemp(prefix="floor-bench-replay-"))
    os.environ["DATA_DIR"] = str(workdir / "pg")
    os.environ.pop("DATABASE_URL", None)
    end = sessions_between(START, START.replace(year=START.year + 1))[args.sessions - 1]
    rounds = []
    with (
        prefect_server(args.port, database_url=fresh_database(args.postgres, "floor_bench_replay")) as api,
        OpenAIServer(default=scripted, prompt_tokens="count") as llm,
    ):
        os.environ.update(
            {"PREFECT_API_URL": api, "OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-bench-not-a-key"}
        )
        reload_runtime()
        for _ in range(args.repeat):
            rounds.append(one_round(llm, end))
            r = rounds[-1]
            print(f"    recorded {r['record_s']:.1f} s ({r['record_requests']} requests), replayed "
                  f"{r['replay_s']:.1f} s ({r['replay_requests']} requests)", flush=True)  # fmt: skip
    report(rounds, args)


def one_round(llm, end) -> dict:
    from flows.backtest import backtest

    before = len(llm.requests)
    start = time.perf_counter()
    recorded = asyncio.run(backtest(start=START, end=end, model=MODEL))
    record_s = time.perf_counter() - start
    middle = len(llm.requests)
    start = time.perf_counter()
    replayed = asyncio.run(backtest(replay=recorded["backtest"]))
    replay_s = time.perf_counter() - start
    assert recorded["status"] == replayed["status"] == "completed", (recorded["status"], replayed["status"])
    same = [_ledger(recorded["backtest"]) == _ledger(replayed["backtest"])]
    return {
        "record_s": record_s,
        "replay_s": replay_s,
        "record_requests": middle - before,
        "replay_requests": len(llm.requests) - middle,
        "same_ledger": all(same),
        **_storage(recorded["backtest"]),
        "cost": recorded["results"]["cost"],
        "book_sessions": sum(t["sessions"] for t in recorded["results"]["traders"]),
    }


def _ledger(backtest_id: int) -> list:
    from sqlalchemy import select

    from floor.books import book_engine, list_books
    from floor.schema import cycles, snapshots, transactions
    from tasks import runtime

    engine, rows = runtime.engine(), []
    for book in list_books(engine, backtest_id):
        with book_engine(engine, book).connect() as conn:
            rows.append((book.trader, book.seed, conn.execute(
                select(transactions.c.symbol, transactions.c.side, transactions.c.quantity,
                       transactions.c.price, transactions.c.created_at).order_by(transactions.c.id)
            ).all(), conn.execute(
                select(cycles.c.session, snapshots.c.portfolio_value).join(cycles).order_by(cycles.c.session)
            ).all()))  # fmt: skip
    return rows


def _storage(backtest_id: int) -> dict:
    from sqlalchemy import func, select, text

    from floor.books import book_engine, list_books
    from floor.schema import model_calls
    from tasks import runtime

    engine = runtime.engine()
    calls = size = 0
    for book in list_books(engine, backtest_id):
        with book_engine(engine, book).connect() as conn:
            calls += conn.execute(select(func.count()).select_from(model_calls)).scalar_one()
            size += conn.execute(
                text("SELECT pg_total_relation_size(:table)"), {"table": f'"{book.schema}".model_calls'}
            ).scalar_one()
    return {"calls": calls, "bytes": size}


def report(rounds: list[dict], args) -> None:
    record = statistics.median(r["record_s"] for r in rounds)
    replay = statistics.median(r["replay_s"] for r in rounds)
    last = rounds[-1]
    print()
    print(f"{args.sessions} sessions x 4 traders on {MODEL} (loopback), median of {args.repeat}, "
          f"cpus: {os.cpu_count()}")  # fmt: skip
    print(f"  recorded: {record:.1f} s ({[round(r['record_s'], 1) for r in rounds]}), "
          f"{last['record_requests']} provider requests, ${last['cost']:.4f}")  # fmt: skip
    print(f"  replayed: {replay:.1f} s ({[round(r['replay_s'], 1) for r in rounds]}), "
          f"{last['replay_requests']} provider requests, $0; replay/record {replay / record:.2f}"
    )  # fmt: skip
    print(f"  same ledger in every round: {all(r['same_ledger'] for r in rounds)}")
    print(f"  recording: {last['calls']} calls in {last['bytes'] / 1e6:.1f} MB "
          f"({last['bytes'] / max(last['calls'], 1) / 1e3:.1f} kB a call, "
          f"{last['bytes'] / max(last['book_sessions'], 1) / 1e3:.1f} kB a book-session)")  # fmt: skip


if __name__ == "__main__":
    main()
