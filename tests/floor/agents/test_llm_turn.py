"""A trader's turn on a real LLM path: litellm -> a scripted OpenAI-compatible server on loopback,
smolagents -> stdio MCP servers -> the ledger. Tokens, cost, budget, failures and key masking."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update

from floor.agents.trader_turn import TurnRequest, run_turn
from floor.clock import SessionClock
from floor.market.cache import store_quotes
from floor.market.simulated import SimulatedMarket
from floor.runs.activity import read_logs
from floor.runs.cycles import start_cycle
from floor.schema import activity_logs, transactions, turns
from floor.settings import Settings
from floor.traders import find_trader, load_traders
from tests.fakes.openai_server import (
    OpenAIServer,
    failure,
    final_answer,
    malformed_tool_call,
    stall,
    tool_call,
)
from tests.tool_service import served

KEY = "sk-llmturn-0123456789-DISTINCTIVE"
BUY = {"symbol": "AAPL", "quantity": 3, "rationale": "Apple trades below fair value on my numbers."}


def llm_settings(database_url: str, llm: OpenAIServer, **overrides) -> Settings:
    values = {
        "database_url": database_url,
        "openai_api_key": KEY,
        "openai_base_url": llm.base_url,
        "floor_model": "openai/gpt-4o-mini",
        "model_retries": 1,
        "model_retry_wait_seconds": 0.01,
        "model_timeout_seconds": 5,
    }
    return Settings(_env_file=None, **{**values, **overrides})


def play(engine, settings: Settings, trader: str = "Warren", flow_run_id: str = "run-1", clock=None):
    cycle_id = start_cycle(engine, forced=True, flow_run_id=flow_run_id)
    market = SimulatedMarket()
    store_quotes(engine, market.quotes(market.universe(), datetime.now(UTC)).values(), cycle_id)
    profile = find_trader(load_traders(settings), trader)
    request = TurnRequest(profile, cycle_id, f"cycle-{cycle_id}:{trader}", market.universe())
    if clock is not None:
        request = replace(request, clock=clock)
    with served(settings, engine) as tools:
        return run_turn(engine, settings, request, tools)


def trades(engine) -> list:
    with engine.connect() as conn:
        return list(conn.execute(select(transactions).order_by(transactions.c.id)))


def turn_row(engine):
    with engine.connect() as conn:
        return conn.execute(select(turns).order_by(turns.c.id.desc()).limit(1)).one()


def everything_written(engine) -> str:
    """Every log line and every turn row, as one text, to look for the key in."""
    with engine.connect() as conn:
        logs = conn.execute(select(activity_logs.c.message)).scalars().all()
        rows = conn.execute(select(turns.c.error, turns.c.appraisal)).all()
    return "\n".join([*logs, *(str(v) for row in rows for v in row)])


def test_a_scripted_buy_lands_in_the_ledger_traced_and_costed(floor, database_url, llm):
    llm.script(
        tool_call("lookup_share_price", {"symbol": "AAPL"}, usage=(900, 30)),
        tool_call("buy_shares", BUY, content="Cheap enough: buying.", usage=(1100, 40)),
        final_answer("Bought 3 AAPL; holding the rest in cash.", usage=(1300, 20)),
    )
    outcome = play(floor, llm_settings(database_url, llm))
    assert outcome.status == "succeeded", outcome.error
    assert outcome.appraisal == "Bought 3 AAPL; holding the rest in cash."
    [trade] = trades(floor)
    assert (trade.symbol, trade.side, trade.quantity, trade.rationale) == ("AAPL", "buy", 3, BUY["rationale"])
    assert (outcome.input_tokens, outcome.output_tokens) == (3300, 90)
    expected = Decimal("3300") * Decimal("0.00000015") + Decimal("90") * Decimal("0.0000006")
    assert outcome.cost == expected
    row = turn_row(floor)
    assert (row.model, row.input_tokens, row.output_tokens) == ("openai/gpt-4o-mini", 3300, 90)
    assert row.cost == expected
    log = [e.message for e in read_logs(floor, "Warren")]
    assert any("[action]" in m and "[900 in / 30 out tokens, $0.000153]" in m for m in log)
    assert any("[tool call] buy_shares(" in m and BUY["rationale"] in m for m in log)
    assert any("[observation]" in m for m in log)
    assert log[-1].startswith("Turn succeeded after 3 steps: openai/gpt-4o-mini, 3 model calls")
    # the key went to the provider, and nowhere else
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in llm.requests)
    assert KEY not in everything_written(floor)


def test_the_prompt_holds_the_account_summary_and_the_market_tools(floor, database_url, llm):
    llm.script(final_answer("Nothing to do."))
    play(floor, llm_settings(database_url, llm))
    [request] = llm.requests
    prompt = request.prompt_text()
    assert "Cash: $10,000.00" in prompt and "Positions: none" in prompt
    assert "simulated market" in prompt and "get_price_history(symbol, days)" in prompt
    assert {"buy_shares", "sell_shares", "lookup_share_price", "final_answer"} <= set(request.tool_names)
    assert f"Time: {datetime.now(UTC):%Y-%m-%dT%H}" in prompt


def test_the_prompt_tells_the_time_of_the_turns_clock(floor, database_url, llm):
    llm.script(final_answer("Nothing to do."))
    play(floor, llm_settings(database_url, llm), clock=SessionClock(date(2025, 3, 4)))
    [request] = llm.requests
    assert "Time: 2025-03-04T14:30+00:00" in request.prompt_text()


@pytest.mark.parametrize("status", [429, 500])
def test_a_failing_provider_ends_the_turn_after_bounded_retries(floor, database_url, llm, status):
    llm.script(*[failure(status, f"provider says no; key {KEY}")] * 5)
    outcome = play(floor, llm_settings(database_url, llm, model_retries=2))
    assert outcome.status == "failed"
    assert f"({status})" in outcome.error and "after 3 attempts" in outcome.error
    assert len(llm.requests) == 3  # one call, two retries, no more
    assert trades(floor) == []
    assert KEY not in outcome.error and KEY not in everything_written(floor)
    assert sum("retrying" in e.message for e in read_logs(floor, "Warren")) == 2


def test_a_rejected_key_is_not_retried(floor, database_url, llm):
    llm.script(failure(401, "Incorrect API key provided"))
    outcome = play(floor, llm_settings(database_url, llm))
    assert outcome.status == "failed" and "rejected the API key (401)" in outcome.error
    assert len(llm.requests) == 1


def test_a_retry_after_a_rate_limit_goes_on_without_trading_twice(floor, database_url, llm):
    llm.script(
        tool_call("buy_shares", BUY),
        failure(429, "slow down"),
        final_answer("Bought 3 AAPL."),
    )
    outcome = play(floor, llm_settings(database_url, llm))
    assert outcome.status == "succeeded", outcome.error
    assert len(trades(floor)) == 1 and len(llm.requests) == 3


def test_a_retry_waits_as_long_as_the_provider_asks(floor, database_url, llm):
    llm.script(failure(429, "slow down", retry_after=1), final_answer("Held."))
    outcome = play(floor, llm_settings(database_url, llm, model_retry_wait_seconds=0.01))
    assert outcome.status == "succeeded", outcome.error
    first, second = llm.requests
    assert second.received_at - first.received_at >= 1


def test_a_timeout_ends_the_turn(floor, database_url, llm):
    llm.script(stall(3), stall(3))
    outcome = play(floor, llm_settings(database_url, llm, model_timeout_seconds=0.5, model_retries=1))
    assert outcome.status == "failed" and "did not answer in time" in outcome.error


def test_malformed_tool_calls_end_the_turn_after_a_few_steps(floor, database_url, llm):
    llm.script(*[malformed_tool_call()] * 10)
    outcome = play(floor, llm_settings(database_url, llm, max_step_errors=3))
    assert outcome.status == "failed"
    assert outcome.error.startswith("stopped after 3 failed steps in a row")
    assert len(llm.requests) == 3 and trades(floor) == []


def test_a_missing_key_skips_the_trader_with_the_reason(floor, database_url, llm):
    settings = llm_settings(database_url, llm, openai_api_key=None, floor_model="openai/gpt-4o-mini")
    outcome = play(floor, settings)
    assert outcome.status == "skipped" and "OPENAI_API_KEY" in outcome.error
    assert llm.requests == []
    assert "OPENAI_API_KEY" in read_logs(floor, "Warren")[-1].message


def test_the_daily_budget_stops_a_turn_that_would_exceed_it(floor, database_url, llm):
    # gpt-4o-mini: 100k prompt tokens cost $0.015; the budget allows one such call, not two
    llm.script(
        tool_call("lookup_share_price", {"symbol": "AAPL"}, usage=(100_000, 0)),
        tool_call("buy_shares", BUY),
    )
    outcome = play(floor, llm_settings(database_url, llm, daily_budget_dollars=0.02))
    assert outcome.status == "failed" and outcome.error.startswith("stopped by the budget")
    assert len(llm.requests) == 1 and trades(floor) == []
    assert outcome.cost == Decimal("0.015")
    # the next turn today starts over budget and is skipped before any call
    again = play(floor, llm_settings(database_url, llm, daily_budget_dollars=0.015), flow_run_id="run-2")
    assert again.status == "skipped" and "daily budget of $0.015 reached" in again.error
    assert len(llm.requests) == 1


def test_yesterdays_spending_does_not_count_against_today(floor, database_url, llm):
    llm.script(tool_call("lookup_share_price", {"symbol": "AAPL"}, usage=(100_000, 0)), final_answer("ok"))
    play(floor, llm_settings(database_url, llm, daily_budget_dollars=0))
    with floor.begin() as conn:
        conn.execute(update(turns).values(started_at=text("now() - interval '1 day'")))
        assert conn.execute(select(func.sum(turns.c.cost))).scalar_one() > Decimal("0.01")
    llm.script(final_answer("ok"))
    outcome = play(floor, llm_settings(database_url, llm, daily_budget_dollars=0.01), flow_run_id="run-2")
    assert outcome.status == "succeeded", outcome.error
