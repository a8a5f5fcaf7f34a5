"""The activity feed: one readable line per step, causal order, the full output kept as detail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from floor.runs.activity_feed import feed, feed_by_trader

T0 = datetime(2026, 11, 2, 15, tzinfo=UTC)


@dataclass(frozen=True)
class E:
    id: int
    type: str
    message: str
    created_at: datetime = T0
    trader: str = "Warren"


def log(*entries: tuple[str, str], start: int = 1) -> list[E]:
    return [E(start + i, t, m, T0 + timedelta(seconds=i)) for i, (t, m) in enumerate(entries)]


def call(n: int, name: str, **arguments) -> tuple[str, str]:
    return ("function", f"Step {n} [tool call] {name}({json.dumps(arguments)})")


def seen(n: int, *results: dict) -> tuple[str, str]:
    return ("agent", f"Step {n} [observation] {' '.join(json.dumps(r) for r in results)}")


def action(n: int, said: str = "(tool calls only)") -> tuple[str, str]:
    return ("generation", f"Step {n} [action]: {said} [812 in / 40 out tokens, $0.000412]")


QUOTE = {"kind": "quote", "symbol": "AAPL", "price": 374.14, "as_of": "2026-11-02T15:00:00Z", "source": "x"}
RECEIPT = {
    "kind": "trade",
    "trader": "Warren",
    "side": "buy",
    "symbol": "AAPL",
    "quantity": 3,
    "price": 374.89,
    "total": 1124.67,
    "cash_after": 8875.33,
    "shares_after": 3,
    "rationale": "a wide moat at a fair price",
    "transaction_id": 1,
}


def test_a_lookup_step_is_one_line_with_its_full_output_as_detail():
    (line,) = feed(log(action(1), call(1, "lookup_share_price", symbol="AAPL"), seen(1, QUOTE))).lines
    assert line.text == "looked up AAPL: $374.14"
    assert line.type == "function" and line.ids == (1, 2, 3)
    assert '"price": 374.14' in line.detail and "lookup_share_price" in line.detail


def test_many_histories_in_one_step_read_as_a_count():
    calls = [call(2, "get_price_history", symbol=s, days=60) for s in "ABCDEFGHIJ"]
    (line,) = feed(log(action(2), *calls, seen(2, *({"kind": "history"} for _ in calls)))).lines
    assert line.text == "history of 10 symbols (60 days)"
    (one,) = feed(log(call(3, "get_price_history", symbol="msft", days=60))).lines
    assert one.text == "history of MSFT (60 days)"


def test_a_batch_of_histories_reads_like_the_single_calls_it_replaces():
    batch = call(2, "get_price_histories", symbols=list("ABCDEFGHIJ"), days=60)
    (line,) = feed(log(action(2), batch, seen(2, {"kind": "histories", "histories": []}))).lines
    assert line.text == "history of 10 symbols (60 days)"
    (one,) = feed(log(call(3, "get_price_histories", symbols=["msft"]))).lines
    assert one.text == "history of MSFT"
    (odd,) = feed(log(call(4, "get_price_histories", symbols="MSFT", days=5))).lines
    assert odd.text == "history of ? (5 days)"  # a malformed call is shown, not guessed at


def test_a_fill_comes_right_after_the_step_that_ordered_it():
    # The ledger writes the account entry while the tool runs; the step is written when it ends.
    entries = log(
        ("trace", "Trade turn started"),
        ("account", "Bought 3 AAPL at $374.89 ($1,124.67); cash now $8,875.33"),
        action(4),
        call(4, "buy_shares", symbol="AAPL", quantity=3, rationale="a wide moat at a fair price"),
        seen(4, RECEIPT),
        ("response", "Final answer: Bought AAPL."),
    )
    lines = feed(entries).lines
    assert [line.text for line in lines] == [
        "Trade turn started",
        "bought 3 AAPL at $374.89 — a wide moat at a fair price",
        "Bought 3 AAPL at $374.89 ($1,124.67); cash now $8,875.33",
        "answered: Bought AAPL.",
    ]
    assert [line.type for line in lines] == ["trace", "function", "account", "response"]
    assert lines[1].ids == (3, 4, 5) and lines[2].ids == (2,)


def test_two_fills_in_one_step_follow_it_in_order_and_a_refusal_reads_as_such():
    entries = log(
        ("account", "Sold 2 KO at $59.88 ($119.76); cash now $10,119.76"),
        ("account", "Bought 1 MSFT at $401.35 ($401.35); cash now $9,718.41"),
        call(5, "sell_shares", symbol="KO", quantity=2, rationale="r"),
        call(5, "buy_shares", symbol="MSFT", quantity=1, rationale="r"),
        seen(5, {**RECEIPT, "side": "sell", "symbol": "KO", "quantity": 2, "price": 59.88, "rationale": "r"}),
        call(6, "buy_shares", symbol="NVDA", quantity=900, rationale="all in"),
        ("agent", "Step 6 [error] Trade rejected: not enough cash to buy 900 NVDA"),
    )
    texts = [line.text for line in feed(entries).lines]
    assert texts == [
        "sold 2 KO at $59.88 — r; buy 1 MSFT",
        "Sold 2 KO at $59.88 ($119.76); cash now $10,119.76",
        "Bought 1 MSFT at $401.35 ($401.35); cash now $9,718.41",
        "buy 900 NVDA refused; error: Trade rejected: not enough cash to buy 900 NVDA",
    ]


def test_an_effect_whose_step_is_not_written_yet_is_held_back_while_young():
    entries = log(call(1, "get_balance"), ("account", "Bought 3 AAPL at $374.89 ($1,124.67); cash now $1"))
    young = feed(entries, hold_since=T0)
    assert [line.text for line in young.lines] == ["get_balance"] and young.held == [2]
    old = feed(entries, hold_since=T0 + timedelta(minutes=1))
    assert old.held == [] and old.lines[-1].type == "account"
    assert feed(entries).held == []  # no hold: everything is shown


def test_balances_holdings_researcher_steps_and_long_text():
    entries = log(
        call(1, "get_balance"),
        call(1, "get_holdings"),
        seen(1, {"kind": "balance", "cash": 8875.33}, {"kind": "holdings", "holdings": {"AAPL": 3}}),
        ("generation", "[researcher] Step 1 [action]: " + "reading the news " * 20),
        ("response", "Final answer: " + "x" * 400),
    )
    first, research, answer = feed(entries).lines
    assert first.text == "cash $8,875.33; holdings: AAPL 3"
    assert research.text.startswith("[researcher] reading the news") and research.text.endswith("…")
    assert len(answer.text) <= 160 and answer.detail == "Final answer: " + "x" * 400


def test_feeds_by_trader():
    entries = [E(1, "trace", "a", trader="Warren"), E(2, "trace", "b", trader="Ray")]
    found = feed_by_trader(entries)
    assert {name: [line.text for line in f.lines] for name, f in found.items()} == {
        "Warren": ["a"],
        "Ray": ["b"],
    }


def test_what_the_step_tracer_and_the_ledger_write_reads_in_causal_order(floor):
    from smolagents.memory import ActionStep, ToolCall
    from smolagents.monitoring import Timing

    from floor.agents.tracing import StepTracer
    from floor.ledger.trades import buy
    from floor.runs.activity import read_logs
    from tests.fixed_prices import SetPrices

    tracer = StepTracer(floor, "Warren", None)
    quote = {**QUOTE, "price": 374.14}
    tracer(
        ActionStep(
            step_number=1,
            timing=Timing(0.0),
            tool_calls=[ToolCall("lookup_share_price", {"symbol": "AAPL"}, "c1")],
            model_output="Checking the price.",
            observations=json.dumps(quote, indent=2),
        )
    )
    trade = buy(floor, "Warren", "AAPL", 3, "a wide moat", SetPrices({"AAPL": "374.14"}), idempotency_key="k")
    receipt = {
        **RECEIPT,
        "price": float(trade.price),
        "total": float(trade.total),
        "rationale": "a wide moat",
    }
    tracer(
        ActionStep(
            step_number=2,
            timing=Timing(0.0),
            tool_calls=[
                ToolCall("buy_shares", {"symbol": "AAPL", "quantity": 3, "rationale": "a wide moat"}, "c2")
            ],
            observations=json.dumps(receipt, indent=2),
        )
    )
    lines = feed(read_logs(floor, "Warren")).lines
    assert [line.text for line in lines] == [
        "looked up AAPL: $374.14",
        f"bought 3 AAPL at ${trade.price} — a wide moat",
        f"Bought 3 AAPL at ${trade.price} ($1,124.67); cash now $8,875.33",
    ]
