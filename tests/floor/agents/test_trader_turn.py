"""One trader's turn outside Prefect: the agent, the tool service over HTTP, the ledger and the log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from floor.agents.trader_turn import TurnRequest, run_turn
from floor.market.cache import store_quotes
from floor.market.simulated import SimulatedMarket
from floor.runs.activity import read_logs
from floor.runs.cycles import start_cycle
from floor.schema import transactions, turns
from floor.traders import find_trader, load_traders


def prepared_cycle(engine, flow_run_id="run-1"):
    cycle_id = start_cycle(engine, forced=True, flow_run_id=flow_run_id)
    market = SimulatedMarket()
    store_quotes(engine, market.quotes(market.universe(), datetime.now(UTC)).values(), cycle_id)
    return cycle_id, market.universe()


def count_transactions(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(transactions)).scalar_one()


def test_a_turn_trades_at_cycle_prices_and_logs_every_step(floor, settings, tool_service):
    cycle_id, universe = prepared_cycle(floor)
    # Risk parity invests a fresh account on any day; the other styles wait for their signals.
    profile = find_trader(load_traders(settings), "Ray")
    request = TurnRequest(
        profile=profile, cycle_id=cycle_id, turn_key=f"cycle-{cycle_id}:Ray", universe=universe
    )
    outcome = run_turn(floor, settings, request, tool_service)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.appraisal and outcome.steps >= 3
    assert count_transactions(floor) > 0, outcome.appraisal
    with floor.connect() as conn:
        cycle_ids = set(conn.execute(select(transactions.c.cycle_id)).scalars())
    assert cycle_ids == {cycle_id}
    types = {entry.type for entry in read_logs(floor, "Ray")}
    assert types == {"trace", "generation", "function", "agent", "account", "response"}


def test_a_retried_cycle_does_not_play_a_finished_turn_again(floor, settings, tool_service):
    cycle_id, universe = prepared_cycle(floor)
    assert start_cycle(floor, forced=True, flow_run_id="run-1") == cycle_id  # the retry reopens it
    profile = find_trader(load_traders(settings), "Warren")
    request = TurnRequest(
        profile=profile, cycle_id=cycle_id, turn_key=f"cycle-{cycle_id}:Warren", universe=universe
    )
    first = run_turn(floor, settings, request, tool_service)
    trades = count_transactions(floor)
    again = run_turn(floor, settings, request, tool_service)
    assert again == first
    assert count_transactions(floor) == trades
    with floor.connect() as conn:
        assert conn.execute(select(func.count()).select_from(turns)).scalar_one() == 1
