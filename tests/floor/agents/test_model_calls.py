"""Model calls recorded in a book and answered from it: the exact request, its hash, the first
difference in words, and a real LiteLLM model against a scripted provider on loopback."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from smolagents import ChatMessage, MessageRole
from sqlalchemy import select

from floor.agents.metering import MeteredModel, ModelCallFailed, TurnMeter
from floor.agents.model_calls import ReplayMismatch, first_difference, provider_request, request_hash
from floor.agents.models import build_model
from floor.backtest.recordings import SessionRecording, SessionReplay
from floor.books import book_engine, create_book
from floor.schema import model_calls
from floor.settings import Settings
from floor.traders import find_trader, load_traders
from tests.fakes.openai_server import OpenAIServer, failure, final_answer, tool_call

DAY = date(2025, 3, 3)


def ask(text: str) -> list[ChatMessage]:
    return [
        ChatMessage(
            role=MessageRole.SYSTEM, content=[{"type": "text", "text": "You trade. Time: 2025-03-03"}]
        ),
        ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": text}]),
    ]


@pytest.fixture
def provider(settings):
    with OpenAIServer() as server:
        configured = replace_settings(settings, server.base_url)
        yield server, configured


def replace_settings(settings: Settings, base_url: str) -> Settings:
    return settings.model_copy(update={"openai_base_url": base_url, "openai_api_key": "sk-test-not-a-key"})


def model(settings: Settings, *, seed: int | None = 1, replaying: bool = False):
    profile = replace(find_trader(load_traders(settings), "Warren"), model="openai/gpt-4o-mini")
    return build_model(profile, settings, seed=seed, replaying=replaying)


def test_the_request_is_what_the_provider_is_sent_without_how_it_is_sent(provider):
    _, settings = provider
    asked = provider_request(model(settings), ask("Buy?"), stop_sequences=["Observation:"])
    assert asked["model"] == "openai/gpt-4o-mini" and asked["seed"] == 1 and asked["stop"] == ["Observation:"]
    assert asked["messages"][1] == {"role": "user", "content": [{"type": "text", "text": "Buy?"}]}
    assert not {"api_key", "api_base", "timeout", "max_retries"} & set(asked)
    assert request_hash(asked) == request_hash(dict(reversed(list(asked.items()))))  # key order aside
    other_seed = provider_request(model(settings, seed=2), ask("Buy?"), stop_sequences=["Observation:"])
    assert request_hash(other_seed) != request_hash(asked)


def test_the_first_difference_is_named_with_its_place_and_both_values():
    recorded = {"messages": [{"role": "user", "content": "Time: 2025-03-03. Buy AAPL?"}], "seed": 1}
    assert first_difference(recorded, recorded) is None
    text = first_difference(
        recorded, {**recorded, "messages": [{"role": "user", "content": "Time: 2025-03-04. Buy AAPL?"}]}
    )
    assert text.startswith("request.messages[0].content differs at character 15:")
    assert "'Time: 2025-03-03. Buy AAPL?'" in text and "'Time: 2025-03-04. Buy AAPL?'" in text
    assert first_difference(recorded, {**recorded, "seed": 2}) == "request.seed was 1, now 2"
    assert first_difference(recorded, {"messages": recorded["messages"]}) == "request.seed was 1, now absent"
    assert first_difference(recorded, {**recorded, "tools": []}) == "request.tools is new: []"
    longer = {**recorded, "messages": recorded["messages"] * 2}
    assert first_difference(recorded, longer) == "request.messages had 1 items, now 2"
    assert first_difference({"seed": 1}, {"seed": "1"}) == 'request.seed was 1, now "1"'


def test_calls_are_recorded_in_the_book_and_replayed_without_asking_the_provider(floor, provider):
    server, settings = provider
    book = book_engine(floor, create_book(floor, "recording"))
    server.script(
        tool_call("lookup_share_price", {"symbol": "AAPL"}, usage=(120, 30)),
        final_answer("Done.", usage=(150, 10)),
    )
    meter = TurnMeter()
    recording = MeteredModel(model(settings), meter, calls=SessionRecording(book, DAY))
    first = recording.generate(ask("Buy?"))
    second = recording.generate(ask("And now?"))
    assert len(server.requests) == 2 and meter.input_tokens == 270
    with book.connect() as conn:
        rows = conn.execute(select(model_calls).order_by(model_calls.c.seq)).all()
    assert [(r.session, r.seq, r.model, r.input_tokens, r.output_tokens) for r in rows] == [
        (DAY, 0, "openai/gpt-4o-mini", 120, 30),
        (DAY, 1, "openai/gpt-4o-mini", 150, 10),
    ]
    assert rows[0].request_hash == request_hash(rows[0].request) and rows[0].cost > 0

    keyless = settings.model_copy(update={"openai_api_key": None})
    replay_meter = TurnMeter()
    replaying = MeteredModel(
        model(keyless, replaying=True), replay_meter, calls=SessionReplay(book, DAY, "Warren")
    )
    again = replaying.generate(ask("Buy?"))
    assert again.tool_calls[0].function.name == first.tool_calls[0].function.name == "lookup_share_price"
    assert again.tool_calls[0].id == first.tool_calls[0].id
    done = replaying.generate(ask("And now?")).tool_calls[0].function
    assert (done.name, done.arguments) == (
        second.tool_calls[0].function.name,
        second.tool_calls[0].function.arguments,
    )
    assert len(server.requests) == 2  # nothing more reached the provider
    assert (replay_meter.input_tokens, replay_meter.output_tokens, replay_meter.cost) == (
        meter.input_tokens, meter.output_tokens, meter.cost
    )  # fmt: skip
    replaying.calls.close()

    wrong = MeteredModel(
        model(keyless, replaying=True), TurnMeter(), calls=SessionReplay(book, DAY, "Warren")
    )
    named = (
        r"Warren, session 2025-03-03, call 1 is not the recorded request: "
        r"request\.messages\[1\]\.content\[0\]\.text differs at character 0: was 'Buy\?', now 'Sell\?'"
    )
    with pytest.raises(ReplayMismatch, match=named):
        wrong.generate(ask("Sell?"))
    short = SessionReplay(book, DAY, "Warren")
    MeteredModel(model(keyless, replaying=True), TurnMeter(), calls=short).generate(ask("Buy?"))
    with pytest.raises(ReplayMismatch, match="the turn ended after 1 of the 2 recorded calls"):
        short.close()
    other_day = MeteredModel(
        model(keyless, replaying=True), TurnMeter(), calls=SessionReplay(book, date(2025, 3, 4), "Warren")
    )
    with pytest.raises(ReplayMismatch, match="the recording holds 0 calls for this session"):
        other_day.generate(ask("Buy?"))
    assert len(server.requests) == 2


def test_a_call_that_failed_is_recorded_and_fails_the_same_way_in_the_replay(floor, provider):
    server, settings = provider
    book = book_engine(floor, create_book(floor, "failing"))
    server.script(failure(401, "bad key"))
    failing = MeteredModel(model(settings), TurnMeter(), retries=0, calls=SessionRecording(book, DAY))
    with pytest.raises(ModelCallFailed) as made:
        failing.generate(ask("Buy?"))
    replaying = MeteredModel(
        model(settings, replaying=True), TurnMeter(), calls=SessionReplay(book, DAY, "Warren")
    )
    with pytest.raises(ModelCallFailed) as replayed:
        replaying.generate(ask("Buy?"))
    assert str(replayed.value) == str(made.value) and "rejected the API key" in str(made.value)
    assert len(server.requests) == 1


def test_the_offline_rules_are_not_recorded(floor, settings):
    book = book_engine(floor, create_book(floor, "offline"))
    offline = build_model(find_trader(load_traders(settings), "Ray"), settings)
    metered = MeteredModel(offline, TurnMeter(), calls=SessionRecording(book, DAY))
    assert metered.calls is None
