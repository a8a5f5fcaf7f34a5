"""A language-model backtest recorded call by call, then replayed through the real flow: no request
reaches the provider, the ledger is the same to the cent and the second, and a changed prompt stops
the replay with the difference named."""

from __future__ import annotations

import os
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from floor.backtest.records import delete_backtest, find_backtest, list_backtests
from floor.books import book_engine, list_books
from floor.errors import ConfigurationError
from floor.schema import model_calls
from tests.fakes.openai_server import OpenAIServer, final_answer, tool_call
from tests.flows.test_backtest import assert_refused, ledger, run_backtest

pytestmark = pytest.mark.slow  # whole backtests through Prefect

END = date(2025, 3, 7)  # 5 sessions from 2025-03-03
MODEL = "openai/gpt-4o-mini"


def trader(request) -> dict:
    """Each session: a price, then a buy of one share (two when the price is under 150), then done."""
    today = re.search(r"Time: (\d{4}-\d{2}-\d{2})", request.prompt_text()).group(1)
    asked = sum(1 for m in request.messages if m["role"] == "assistant")
    if asked == 0:
        return tool_call("lookup_share_price", {"symbol": "AAPL"})
    if asked == 1:
        price = float(re.findall(r'"price": "?([\d.]+)', request.prompt_text())[-1])
        quantity = 2 if price < 150 else 1
        return tool_call(
            "buy_shares", {"symbol": "AAPL", "quantity": quantity, "rationale": f"a steady buy on {today}"}
        )
    return final_answer(f"Bought AAPL on {today}.")


@pytest.fixture
def llm(runtime, monkeypatch):
    """The scripted provider on loopback, and the flow's wiring pointed at it (books on threads)."""
    with OpenAIServer(default=trader) as server:
        monkeypatch.setenv("BACKTEST_WORKERS", "0")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-backtest-not-a-key")
        rewire(runtime)
        yield server


def rewire(runtime) -> None:
    for cached in (runtime.settings, runtime.engine, runtime.market):
        cached.cache_clear()


def test_a_replay_asks_no_provider_and_ends_with_the_recorded_ledger(llm, runtime, floor, monkeypatch):
    recorded = run_backtest(end=END, traders=["Warren"], model=MODEL, seeds=2)
    assert recorded["status"] == "completed"
    asked = len(llm.requests)
    original = find_backtest(floor, recorded["backtest"])
    books = list_books(floor, original.id)
    calls = 0
    for book in books:
        with book_engine(floor, book).connect() as conn:
            calls += conn.execute(select(func.count()).select_from(model_calls)).scalar_one()
    assert asked == calls == 2 * 5 * 3  # every request the provider saw is recorded, and only those
    assert all(ledger(floor, book)["fills"] for book in books)
    after_cutoff = {"model": MODEL, "cutoff": "2023-10-01", "inside": False}  # March 2025 is news to 4o-mini
    assert all(t["training_data"] == after_cutoff for t in original.results["traders"])
    assert all(t["provider_calls"] == 15 for t in original.results["traders"])

    monkeypatch.delenv("OPENAI_API_KEY")  # a replay needs no key: nothing is sent
    rewire(runtime)
    replayed = run_backtest(replay=original.id)
    assert len(llm.requests) == asked  # not one more request reached the provider
    replay = find_backtest(floor, replayed["backtest"])
    assert replayed["status"] == "completed" and replay.replay_of == original.id
    assert replay.spec.traders == ("Warren",) and replay.spec.seeds == 2 and replay.spec.model == MODEL
    again = {(b.trader, b.seed): b for b in list_books(floor, replay.id)}
    for book in books:
        assert ledger(floor, again[(book.trader, book.seed)]) == ledger(floor, book)
    by_book = {(t["trader"], t["seed"]): t for t in original.results["traders"]}
    for t in replay.results["traders"]:  # the recorded tokens and cost, counted again
        first = by_book[(t["trader"], t["seed"])]
        assert t["provider_calls"] == 0
        assert (t["input_tokens"], t["output_tokens"], t["cost"]) == (
            first["input_tokens"], first["output_tokens"], first["cost"]
        )  # fmt: skip

    # A replay of the replay answers from the first recording, which is kept while replays need it.
    twice = run_backtest(replay=replay.id)
    assert find_backtest(floor, twice["backtest"]).replay_of == original.id
    assert len(llm.requests) == asked
    with pytest.raises(ConfigurationError, match=rf"backtest {original.id} holds the recording replayed by "
                       rf"backtest {replay.id}, {twice['backtest']}: delete that first"):  # fmt: skip
        delete_backtest(floor, original.id)
    assert find_backtest(floor, original.id).status == "completed"

    # A changed prompt (a risk limit the instructions state) is a different request: the replay stops.
    monkeypatch.setenv("RISK_MAX_ORDERS_PER_TURN", "7")
    rewire(runtime)
    with pytest.raises(RuntimeError) as failed:
        run_backtest(replay=original.id)
    stopped = list_backtests(floor)[0]  # the newest
    assert stopped.status == "failed" and stopped.replay_of == original.id
    assert (
        "ReplayMismatch" in stopped.note
        and "session 2025-03-03, call 1 is not the recorded request" in stopped.note
    )
    assert re.search(r"request\.messages\[0\]\.content(\[0\]\.text)? differs at character \d+", stopped.note)
    assert "Your risk limits" in stopped.note.split("now", 1)[1].split(";")[0]  # quoted from the new prompt
    assert str(failed.value).startswith(f"backtest {stopped.id}: failed books")
    assert len(llm.requests) == asked


def costly(request) -> dict:
    """The same trader at a price that shows: 100,000 prompt tokens a call ($0.027 a call on 4o-mini)."""
    return {**trader(request), "usage": (100_000, 20_000)}


def test_the_estimate_comes_from_recorded_token_counts_and_max_dollars_stops_the_spend(
    llm, runtime, floor, monkeypatch
):
    from floor.agents.costs import call_cost
    from floor.backtest.recordings import describe_estimate, estimate_backtest
    from floor.backtest.records import plan_backtest
    from floor.backtest.report import results_text
    from floor.traders import load_traders

    profiles = load_traders(runtime.settings())
    month = dict(start=date(2025, 3, 3), end=date(2025, 3, 28), traders=["Warren"])  # 20 sessions
    unknown = estimate_backtest(floor, plan_backtest(profiles, **month, model=MODEL), profiles)
    assert (
        unknown.dollars is None
        and unknown.unknown == (MODEL,)
        and unknown.basis == {MODEL: "not recorded yet"}
    )

    first = find_backtest(floor, run_backtest(end=END, traders=["Warren"], model=MODEL)["backtest"])
    [warren] = first.results["traders"]
    tokens = (round(warren["input_tokens"] / 5), round(warren["output_tokens"] / 5))  # a session's
    estimate = estimate_backtest(floor, plan_backtest(profiles, **month, model=MODEL), profiles)
    assert estimate.dollars == (call_cost(MODEL, *tokens) * 20).quantize(Decimal("0.0001"))
    assert estimate.dollars == (Decimal(str(warren["cost"])) / 5 * 20).quantize(Decimal("0.0001"))
    pricier = "openai/gpt-4o"  # never recorded: it goes by 4o-mini's token counts, at its own price
    other = estimate_backtest(floor, plan_backtest(profiles, **month, model=pricier), profiles)
    assert other.dollars == (call_cost(pricier, *tokens) * 20).quantize(Decimal("0.0001")) > estimate.dollars
    assert describe_estimate(other) == (
        f"Estimated model cost: about ${other.dollars:.4f} ({pricier} ${call_cost(pricier, *tokens):.6f} "
        "a book-session, by the tokens of 5 recorded sessions of other models)"
    )

    asked = len(llm.requests)
    with pytest.raises(ConfigurationError, match=rf"estimated model cost \${other.dollars:.4f} is over the "
                       r"--max-dollars limit \$0\.01: raise the limit or shorten the span"):  # fmt: skip
        run_backtest(**month, model=pricier, max_dollars=0.01)
    assert len(llm.requests) == asked and len(list_backtests(floor)) == 1  # nothing started

    # Turns far costlier than the recording: the estimate lets it start, the limit stops it mid-way.
    llm.default = costly  # $1.35 a session on 4o
    monkeypatch.setenv("MODEL_CUTOFFS", '{"openai/gpt-4o": "2025-06-01"}')  # as if trained past the span
    rewire(runtime)
    limited = run_backtest(**month, model=pricier, max_dollars=2.0)
    stopped = find_backtest(floor, limited["backtest"])
    spent = Decimal(str(stopped.results["cost"]))
    played = stopped.results["traders"][0]["sessions"]
    assert stopped.status == "stopped" and played == 2 and Decimal(2) <= spent < Decimal(4)
    assert stopped.note == f"stopped at the --max-dollars limit of $2.00: ${spent:.4f} spent"
    assert stopped.results["traders"][0]["training_data"]["inside"] is True
    assert "Warren *" in results_text(stopped) and "inside the model's training data" in results_text(stopped)
    resumed = run_backtest(resume=stopped.id, max_dollars=100.0)
    assert resumed["status"] == "completed"
    assert find_backtest(floor, stopped.id).results["traders"][0]["sessions"] == 20


def test_the_cli_refuses_a_bad_replay_or_limit_before_anything_starts(floor, settings, database_url):
    from floor.backtest.records import create_backtest, ensure_books, plan_backtest, set_status
    from floor.traders import load_traders

    env = {**os.environ, "DATABASE_URL": database_url}
    span = ["--start", "2025-03-03", "--end", "2025-03-07"]
    profiles = load_traders(settings)
    stopped = create_backtest(floor, plan_backtest(profiles, date(2025, 3, 3), END, traders=["Ray"]))
    ensure_books(floor, stopped, profiles)
    set_status(floor, stopped.id, "stopped", note="stopped by request")
    cases = [
        (
            ["--replay", str(stopped.id)],
            f"backtest {stopped.id} is stopped: its recording stops where it did",
        ),
        (["--replay", "5", "--start", "2025-03-03"], "--replay plays the recorded backtest's own span"),
        (["--replay", "5", "--trader", "Ray"], "drop --trader"),
        (["--replay", "0"], "--replay must be a positive whole number"),
        (["--replay", "99"], "no backtest 99"),
        ([*span, "--max-dollars", "-1"], "must be a positive amount of dollars"),
        ([*span, "--max-dollars", "1.234"], "must be a positive amount of dollars"),
        ([*span, "--max-dollars", "0"], "must be a positive amount of dollars"),
    ]
    assert_refused(cases, env)
    assert [b.id for b in list_backtests(floor)] == [stopped.id]
