"""Three valued cycles on a fresh floor, written by the real ledger, price cache and valuation code.

Prices are chosen by hand so every figure on the page can be checked with a pencil:
  cycle 1 (15:00 UTC)  AAPL 100, SPY 500   Warren buys 10 AAPL at 100.20 -> cash 8,998.00, value 9,998.00
  cycle 2 (16:00 UTC)  AAPL 110, SPY 510   Warren sells 5 AAPL at 109.78 -> cash 9,546.90, value 10,096.90
  cycle 3 (17:00 UTC)  AAPL 99,  SPY 505   value 9,546.90 + 5 x 99 = 10,041.90
SPY buy-and-hold: 19 shares at 501.00, 481.00 cash -> 9,981.00, 10,171.00, 10,076.00.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, update

from floor.ledger.trades import buy, sell
from floor.market import Quote
from floor.market.cache import PriceBook, store_quotes
from floor.market.simulated import SimulatedMarket
from floor.portfolio.read_model import AccountView, read_accounts
from floor.portfolio.valuation import record_snapshots
from floor.runs.activity import write_log
from floor.runs.cycles import TurnOutcome, add_turn_usage, finish_cycle, finish_turn, start_cycle, start_turn
from floor.schema import transactions

MARKET = SimulatedMarket.name  # the cycles' prices are cached as the configured market's

CYCLE_PRICES = [
    {"AAPL": "100", "SPY": "500"},
    {"AAPL": "110", "SPY": "510"},
    {"AAPL": "99", "SPY": "505"},
]
FLOW_RUN_IDS = ["0b6f6c1e-1111-4a3b-9c1d-000000000001", None, "0b6f6c1e-3333-4a3b-9c1d-000000000003"]


def value_cycle(
    engine: Engine, quoted: dict[str, str], at: datetime, flow_run_id: str | None = None, trade=None
) -> int:
    """One cycle: cache the quoted prices, let ``trade(book, cycle_id)`` act, value every account."""
    cycle_id = start_cycle(engine, forced=True, flow_run_id=flow_run_id)
    store_quotes(
        engine, [Quote(s, Decimal(p), at, MARKET, fetched_at=at) for s, p in quoted.items()], cycle_id
    )
    if trade is not None:
        trade(PriceBook(engine, SimulatedMarket(), cycle_id), cycle_id)
        with engine.begin() as conn:  # the trades happened at the cycle's time, as they would live
            conn.execute(
                update(transactions).where(transactions.c.cycle_id == cycle_id).values(created_at=at)
            )
    record_snapshots(engine, read_accounts(engine, MARKET, cycle_id), cycle_id=cycle_id, taken_at=at)
    finish_cycle(engine, cycle_id, "completed")
    return cycle_id


def value_at(
    engine: Engine,
    quoted: Mapping[str, object],
    *,
    cycle_id: int | None = None,
    taken_at: datetime | None = None,
    source: str = "fixed",
) -> list[AccountView]:
    """Cache ``quoted`` (for ``cycle_id``, or outside any cycle as ``source``), value every account
    at them by the read model's rule and record the snapshots."""
    at = taken_at or datetime.now(UTC)
    store_quotes(
        engine, [Quote(s, Decimal(str(p)), at, source, fetched_at=at) for s, p in quoted.items()], cycle_id
    )
    views = read_accounts(engine, source, cycle_id)
    record_snapshots(engine, views, cycle_id=cycle_id, taken_at=at)
    return views


def trade_three_cycles(engine: Engine) -> Engine:
    """The three cycles described above, on a floor with the four default traders."""

    def first(book, cycle_id):
        turn = start_turn(engine, cycle_id, "Warren", "trade", "openai/gpt-4.1-mini")
        write_log(engine, "Warren", "trace", "turn started", cycle_id=cycle_id)
        write_log(engine, "Warren", "generation", "thinking about AAPL", cycle_id=cycle_id)
        buy(engine, "Warren", "AAPL", 10, "cheap", book, idempotency_key="k1", cycle_id=cycle_id)
        write_log(engine, "Warren", "response", "bought AAPL", cycle_id=cycle_id)
        add_turn_usage(engine, turn, 1000, 200, Decimal("0.0123"))
        finish_turn(engine, turn, TurnOutcome("succeeded"))

    def second(book, cycle_id):
        write_log(engine, "George", "agent", "looking for a contrarian bet", cycle_id=cycle_id)
        write_log(engine, "George", "function", "lookup_share_price(SPY)", cycle_id=cycle_id)
        sell(engine, "Warren", "AAPL", 5, "took profit", book, idempotency_key="k2", cycle_id=cycle_id)

    for i, (quoted, trade) in enumerate(zip(CYCLE_PRICES, [first, second, None], strict=True)):
        value_cycle(engine, quoted, datetime(2026, 11, 2, 15 + i, tzinfo=UTC), FLOW_RUN_IDS[i], trade)
    return engine
