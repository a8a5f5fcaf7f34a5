"""Which model a trader gets, what calls cost, what the prompt shows, and what is masked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from floor.agents.account_summary import account_summary
from floor.agents.costs import call_cost
from floor.agents.metering import BudgetExceeded, TurnMeter
from floor.agents.models import build_model, provider_credentials
from floor.agents.prompts import market_data_note
from floor.agents.redaction import MASK, Redactor
from floor.errors import ConfigurationError
from floor.ledger.trades import buy, sell
from floor.market.cache import PriceBook, store_quotes
from floor.market.simulated import SimulatedMarket
from floor.runs.cycles import start_cycle
from floor.settings import Settings
from floor.traders import find_trader, load_traders


def settings_with(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_use_many_models_gives_four_providers_and_a_trader_model_wins():
    many = {t.name: t.model for t in load_traders(settings_with(use_many_models=True, floor_model="offline"))}
    assert [m.split("/")[0] for m in many.values()] == ["openai", "deepseek", "gemini", "xai"]
    one = {t.model for t in load_traders(settings_with(floor_model="openai/gpt-4o-mini"))}
    assert one == {"openai/gpt-4o-mini"}


def test_every_many_models_choice_and_default_has_a_litellm_price():
    from floor.settings import DEFAULT_MODEL_FOR_KEY

    models = [t.model for t in load_traders(settings_with(use_many_models=True))]
    for model in [*models, *(m for _, m in DEFAULT_MODEL_FOR_KEY)]:
        assert call_cost(model, 1000, 100) > 0, model


def test_provider_keys_and_base_urls_come_from_settings():
    settings = settings_with(
        deepseek_api_key="ds-key-123456",
        deepseek_base_url="http://127.0.0.1:9/ds",
        grok_api_key="grok-key-123456",
        ollama_base_url="http://127.0.0.1:11434",
    )
    assert provider_credentials("deepseek/deepseek-chat", settings) == (
        "ds-key-123456",
        "http://127.0.0.1:9/ds",
    )
    assert provider_credentials("xai/grok-4.20", settings) == ("grok-key-123456", None)
    assert provider_credentials("ollama_chat/llama3", settings) == (None, "http://127.0.0.1:11434")
    with pytest.raises(ConfigurationError, match="GOOGLE_API_KEY"):
        provider_credentials("gemini/gemini-2.5-flash", settings)
    with pytest.raises(ConfigurationError, match="must name its provider"):
        provider_credentials("gpt-4o-mini", settings)


def test_a_missing_key_never_falls_back_to_another_model():
    settings = settings_with(openai_api_key="sk-present-123456")
    profile = find_trader(load_traders(settings_with(use_many_models=True)), "George")
    with pytest.raises(ConfigurationError, match="DEEPSEEK_API_KEY"):
        build_model(profile, settings)


def test_costs_from_litellms_offline_price_map():
    assert call_cost("openai/gpt-4o-mini", 1_000_000, 1_000_000) == Decimal("0.75")
    assert call_cost("offline/value", 5000, 500) == Decimal(0)
    assert call_cost("ollama_chat/llama3", 5000, 500) == Decimal(0)  # local models are free
    assert call_cost("openai/my-finetune-xyz", 5000, 500) is None  # no price known


def test_the_meter_counts_and_stops_before_the_budget_is_passed():
    meter = TurnMeter(budget=Decimal("0.02"), spent_before=Decimal("0.004"))
    meter.check_budget()
    assert meter.record("openai/gpt-4o-mini", 100_000, 0) == Decimal("0.015")
    assert meter.spent_today == Decimal("0.019")
    with pytest.raises(BudgetExceeded, match=r"daily budget of \$0.02 reached"):
        meter.check_budget()  # another call like the last would pass it
    meter.record("openai/my-finetune-xyz", 10, 10)
    assert meter.unpriced == {"openai/my-finetune-xyz"} and meter.calls == 2


def test_redaction_masks_configured_keys_and_key_shaped_strings():
    redact = Redactor.from_settings(
        settings_with(openai_api_key="my-secret-key-1", pushover_token="tok987654")
    )
    text = "key my-secret-key-1, token tok987654, header Bearer abcdefghijkl, sk-proj-ABCDEFGH1234 here"
    masked = redact(text)
    for secret in ("my-secret-key-1", "tok987654", "abcdefghijkl", "sk-proj-ABCDEFGH1234"):
        assert secret not in masked
    assert masked.count(MASK) == 4 and masked.startswith("key [redacted], token")


def test_the_market_note_follows_the_data_plan():
    assert "simulated market" in market_data_note(settings_with())
    assert "15 minutes" in market_data_note(settings_with(polygon_api_key="pk-123456", polygon_plan="paid"))
    assert "previous trading day" in market_data_note(settings_with(polygon_api_key="pk-123456"))


def test_the_account_summary_does_not_grow_with_history(floor):
    cycle_id = start_cycle(floor, forced=True, flow_run_id="summary")
    market = SimulatedMarket()
    store_quotes(floor, market.quotes(market.universe(), datetime.now(UTC)).values(), cycle_id)
    prices = PriceBook(floor, market, cycle_id)
    buy(floor, "Warren", "AAPL", 3, "first buy", prices, idempotency_key="k0")
    sizes = {}
    for i in range(1, 301):
        trade = buy if i % 2 else sell
        trade(floor, "Warren", "KO", 1, f"round trip {i} " + "x" * 150, prices, idempotency_key=f"k{i}")
        if i in (10, 300):
            sizes[i] = account_summary(floor, "Warren", market.name, cycle_id)
    summary = account_summary(floor, "Warren", market.name, cycle_id)
    assert len(sizes[10].splitlines()) == len(sizes[300].splitlines())
    assert abs(len(sizes[10]) - len(sizes[300])) <= 5  # only the trade numbers' digits differ
    assert "AAPL: 3 @" in summary and "Last 5 transactions" in summary
    assert "round trip 300" in summary and "round trip 295" not in summary
