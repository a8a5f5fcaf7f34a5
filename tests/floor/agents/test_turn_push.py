"""An LLM trader's push tool inside a real turn: a bad target is a clear reason, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime

from floor.agents.trader_turn import TurnRequest, run_turn
from floor.market.cache import store_quotes
from floor.market.simulated import SimulatedMarket
from floor.runs.cycles import start_cycle
from floor.settings import Settings
from floor.traders import find_trader, load_traders
from tests.fakes.openai_server import OpenAIServer, final_answer
from tests.tool_service import served

SECRET = "hunter2-very-secret"


def test_a_bad_notification_target_skips_the_turn_with_the_reason(floor, database_url):
    with OpenAIServer() as llm:
        llm.script(final_answer("never asked"))
        settings = Settings(
            _env_file=None,
            database_url=database_url,
            floor_model="openai/gpt-4o-mini",
            openai_api_key="sk-turn-push-test-123",
            openai_base_url=llm.base_url,
            apprise_urls=f"nosuchscheme://{SECRET}@host",
        )
        cycle_id = start_cycle(floor, forced=True, flow_run_id="run-push")
        market = SimulatedMarket()
        store_quotes(floor, market.quotes(market.universe(), datetime.now(UTC)).values(), cycle_id)
        profile = find_trader(load_traders(settings), "Warren")
        with served(settings, floor) as tools:
            outcome = run_turn(
                floor, settings, TurnRequest(profile, cycle_id, "turn-push", market.universe()), tools
            )
        assert llm.requests == []
    assert outcome.status == "skipped"
    assert "APPRISE_URLS entry 1 is not a URL apprise can notify" in outcome.error
    assert SECRET not in outcome.error
