"""Prompt tokens of the first model call of a trader turn, after 0, 100 and 500 past transactions.

The real path end to end: embedded Postgres with Warren's ledger holding N transactions made
through ``floor.ledger.trades``, ``run_turn`` with ``openai/gpt-4o-mini`` through litellm and smolagents,
stdio MCP servers, and an OpenAI-compatible server on 127.0.0.1 that counts each request's prompt
tokens with litellm's bundled tokenizer (messages and tool schemas, as a provider bills them).
Beside each figure, the original design's prompt (the whole transaction list pasted in).

    python bench/prompt_tokens.py [--history 0 100 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the loopback server lives in tests/fakes

TOOLS_OFFERED: set[str] = set()
ORIGINAL = {0: 583, 100: 6_882, 500: 32_082}  # measured on the original design's prompt
SYMBOLS = ["AAPL", "MSFT", "KO", "JNJ", "BRK.B", "PG", "JPM", "XOM", "SPY", "TLT"]
RATIONALE = (
    "{symbol} moved against its 60-day average and the position size fits my strategy's limits, "
    "so I adjust it by a few shares."
)


def make_history(engine, trader: str, n: int, prices) -> None:
    """``n`` real trades on ``trader``'s account: a share of each symbol, then buy-and-sell pairs."""
    from floor.ledger.trades import buy, sell

    for i in range(n):
        symbol = SYMBOLS[(i if i < len(SYMBOLS) else i // 2) % len(SYMBOLS)]
        trade = sell if i >= len(SYMBOLS) and i % 2 else buy
        trade(engine, trader, symbol, 1, RATIONALE.format(symbol=symbol), prices, idempotency_key=f"b{n}-{i}")


def measure(engine, database_url: str, llm, n: int, repeat: int) -> tuple[int, int]:
    """Median prompt tokens of the first call (with tools, messages only) over ``repeat`` turns."""
    from sqlalchemy import update

    from floor.agents.trader_turn import TurnRequest, run_turn
    from floor.runs.cycles import start_cycle
    from floor.schema import accounts
    from floor.settings import Settings
    from floor.traders import find_trader, load_traders
    from tests.fakes.openai_server import count_prompt_tokens

    settings = Settings(
        _env_file=None,
        database_url=database_url,
        floor_model="openai/gpt-4o-mini",
        openai_api_key="sk-bench-not-a-key",
        openai_base_url=llm.base_url,
        daily_budget_dollars=0,
    )
    profile = find_trader(load_traders(settings), "Warren")
    with_tools, messages_only = [], []
    for run in range(repeat):
        with engine.begin() as conn:  # every run measures the same kind of turn
            conn.execute(update(accounts).where(accounts.c.name == "Warren").values(next_turn="trade"))
        cycle_id = start_cycle(engine, forced=True, flow_run_id=f"bench-{n}-{run}")
        seen = len(llm.requests)
        request = TurnRequest(profile, cycle_id, f"bench-{n}-{run}", SYMBOLS)
        outcome = run_turn(engine, settings, request, database_url)
        if outcome.status != "succeeded":
            raise SystemExit(f"the turn failed: {outcome.error}")
        first = llm.requests[seen]
        TOOLS_OFFERED.update(first.tool_names)
        with_tools.append(count_prompt_tokens(first))
        first.body.pop("tools", None)
        messages_only.append(count_prompt_tokens(first))
    return int(statistics.median(with_tools)), int(statistics.median(messages_only))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, nargs="+", default=[0, 100, 500])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from floor.database import create_floor_engine, migrate, sqlalchemy_url, start_embedded_postgres
    from floor.ledger.accounts import reset_accounts
    from floor.market.cache import PriceBook, store_quotes
    from floor.market.simulated import SimulatedMarket
    from floor.runs.cycles import start_cycle
    from floor.settings import Settings
    from floor.traders import load_traders
    from tests.fakes.openai_server import OpenAIServer, final_answer

    with tempfile.TemporaryDirectory() as tmp:
        database_url = sqlalchemy_url(start_embedded_postgres(Path(tmp) / "pg"))
        os.environ["DATABASE_URL"] = database_url  # the MCP servers' database
        engine = create_floor_engine(database_url)
        migrate(engine)
        market = SimulatedMarket()
        rows = []
        with OpenAIServer(default=final_answer("Holding this turn."), prompt_tokens="count") as llm:
            for n in args.history:
                reset_accounts(engine, load_traders(Settings(_env_file=None)))
                cycle_id = start_cycle(engine, forced=True, flow_run_id=f"prices-{n}")
                store_quotes(engine, market.quotes(market.universe(), datetime.now(UTC)).values(), cycle_id)
                make_history(engine, "Warren", n, PriceBook(engine, market, cycle_id))
                rows.append((n, *measure(engine, database_url, llm, n, args.repeat)))
        engine.dispose()

    base = rows[0][1]
    print(f"First-call prompt tokens of a trader turn (median of {args.repeat}; gpt-4o-mini tokenizer)")
    print(
        f"{'transactions':>12} {'ours':>7} {'messages':>9} {'vs none':>8} {'original':>9} {'orig/ours':>10}"
    )
    for n, tools, messages in rows:
        original = ORIGINAL.get(n)
        orig = f"{original:,}" if original else "-"
        ratio = f"{original / tools:.1f}x" if original else "-"
        print(f"{n:>12} {tools:>7,} {messages:>9,} {tools / base:>7.2f}x {orig:>9} {ratio:>10}")
    print(f"ours = messages + the schemas of {len(TOOLS_OFFERED)} tools: {', '.join(sorted(TOOLS_OFFERED))}")


if __name__ == "__main__":
    main()
