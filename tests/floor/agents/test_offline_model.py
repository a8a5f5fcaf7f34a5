"""The offline strategy model driving a real smolagents ToolCallingAgent through in-memory tools.

The tools stand in for the MCP servers: a tiny paper account and a deterministic market that
answer with the same ``tool_results`` JSON the servers send, and reject bad trades with text.
"""

from __future__ import annotations

import math
import random
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from smolagents import LogLevel, Tool, ToolCallingAgent
from smolagents.memory import ActionStep

from floor.agents.offline_model import OfflineStrategyModel, read_transcript, tool_records
from floor.agents.strategies import STYLES
from floor.market.universe import BY_SYMBOL
from floor.money import buy_fill, cents, sell_fill
from floor.tool_results import (
    Balance,
    DailyCloseResult,
    Holdings,
    Position,
    PriceHistories,
    PriceHistory,
    TradeReceipt,
)

TRADER = "Tester"


def closes(symbol: str, days: int = 90) -> list[Decimal]:
    """A deterministic random walk at the universe's price level and volatility."""
    instrument, rng = BY_SYMBOL[symbol], random.Random(f"walk-{symbol}")
    level, out = instrument.base_price, []
    for _ in range(days):
        level *= math.exp(rng.gauss(0.0, instrument.annual_vol / math.sqrt(252)))
        out.append(cents(level))
    return out


class PaperAccount:
    """Cash and shares, traded at the last close with the floor's spread; refuses what it must."""

    def __init__(self, cash: str = "10000", holdings: dict[str, int] | None = None) -> None:
        self.cash = Decimal(cash)
        self.holdings = dict(holdings or {})
        self.trades: list[TradeReceipt] = []
        self.rejections: list[str] = []
        self.reject_buys_with: str | None = None  # text a buy answers instead of filling
        self.raise_on_buy = False
        self.lock = threading.Lock()

    def trade(self, side: str, symbol: str, quantity: int, rationale: str) -> str:
        with self.lock:
            reason = self._refusal(side, symbol, quantity)
            if reason:
                self.rejections.append(reason)
                return f"Error executing tool {side}_shares: Trade rejected: {reason}"
            price = (buy_fill if side == "buy" else sell_fill)(closes(symbol)[-1])
            sign = 1 if side == "buy" else -1
            self.cash -= sign * quantity * price
            self.holdings[symbol] = self.holdings.get(symbol, 0) + sign * quantity
            receipt = TradeReceipt(
                trader=TRADER,
                side=side,
                symbol=symbol,
                quantity=quantity,
                price=float(price),
                total=float(quantity * price),
                cash_after=float(self.cash),
                shares_after=self.holdings[symbol],
                rationale=rationale,
                transaction_id=len(self.trades) + 1,
            )
            self.trades.append(receipt)
            return receipt.model_dump_json(indent=2)

    def _refusal(self, side: str, symbol: str, quantity: int) -> str | None:
        if symbol not in BY_SYMBOL:
            return f"unknown symbol {symbol}"
        if not isinstance(quantity, int) or quantity < 1:
            return "quantity must be a whole number of shares, at least 1"
        if side == "buy" and self.reject_buys_with:
            return self.reject_buys_with
        if side == "buy" and quantity * buy_fill(closes(symbol)[-1]) > self.cash:
            return f"not enough cash for {quantity} {symbol}"
        if side == "sell" and quantity > self.holdings.get(symbol, 0):
            return f"you hold {self.holdings.get(symbol, 0)} {symbol}, cannot sell {quantity}"
        return None


class AccountTool(Tool):
    output_type = "string"

    def __init__(self, account: PaperAccount) -> None:
        super().__init__()
        self.account = account


class GetBalance(AccountTool):
    name, description, inputs = "get_balance", "Get the cash balance of your account, in dollars.", {}

    def forward(self) -> str:
        return Balance(trader=TRADER, cash=float(self.account.cash)).model_dump_json(indent=2)


class GetHoldings(AccountTool):
    name, description, inputs = "get_holdings", "Get the shares you hold, symbol by symbol.", {}

    def forward(self) -> str:
        held = {s: q for s, q in self.account.holdings.items() if q > 0}
        positions = [Position(symbol=s, shares=q, average_cost=float(closes(s)[-1])) for s, q in held.items()]
        return Holdings(trader=TRADER, holdings=held, positions=positions).model_dump_json(indent=2)


class GetPriceHistory(AccountTool):
    name, description = "get_price_history", "Get daily closing prices of one symbol, oldest first."
    inputs = {
        "symbol": {"type": "string", "description": "Ticker symbol, e.g. AAPL."},
        "days": {"type": "integer", "description": "How many trading days back.", "nullable": True},
    }

    def forward(self, symbol: str, days: int | None = 30) -> str:
        if symbol not in BY_SYMBOL:
            return f"Error executing tool get_price_history: unknown symbol {symbol}"
        return history_of(symbol, days or 30).model_dump_json(indent=2)


def history_of(symbol: str, days: int) -> PriceHistory:
    start = date(2025, 1, 1)
    rows = [
        DailyCloseResult(day=start + timedelta(days=i), close=float(c))
        for i, c in enumerate(closes(symbol)[-days:])
    ]
    return PriceHistory(symbol=symbol, closes=rows)


class GetPriceHistories(AccountTool):
    name, description = "get_price_histories", "Get daily closing prices of several symbols in one call."
    inputs = {
        "symbols": {"type": "array", "description": "Ticker symbols, e.g. ['AAPL']."},
        "days": {"type": "integer", "description": "How many trading days back.", "nullable": True},
    }

    def forward(self, symbols: list[str], days: int | None = 30) -> str:
        if unknown := [s for s in symbols if s not in BY_SYMBOL]:
            return f"Error executing tool get_price_histories: unknown symbol {unknown[0]}"
        return PriceHistories(histories=[history_of(s, days or 30) for s in symbols]).model_dump_json(
            indent=2
        )


TRADE_INPUTS = {
    "symbol": {"type": "string", "description": "Ticker symbol, e.g. AAPL."},
    "quantity": {"type": "integer", "description": "Whole number of shares, at least 1."},
    "rationale": {"type": "string", "description": "Why, in a sentence."},
}


class BuyShares(AccountTool):
    name, description, inputs = "buy_shares", "Buy shares at the current price plus 0.2%.", TRADE_INPUTS

    def forward(self, symbol: str, quantity: int, rationale: str) -> str:
        if self.account.raise_on_buy:
            raise RuntimeError("the accounts server went away")
        return self.account.trade("buy", symbol, quantity, rationale)


class SellShares(AccountTool):
    name, description, inputs = (
        "sell_shares",
        "Sell shares you hold at the current price minus 0.2%.",
        TRADE_INPUTS,
    )

    def forward(self, symbol: str, quantity: int, rationale: str) -> str:
        return self.account.trade("sell", symbol, quantity, rationale)


ALL_TOOLS = (GetBalance, GetHoldings, GetPriceHistories, GetPriceHistory, BuyShares, SellShares)
SINGLE_HISTORY_TOOLS = (GetBalance, GetHoldings, GetPriceHistory, BuyShares, SellShares)


def run(model: OfflineStrategyModel, account: PaperAccount, turn: str | None = "trade", tools=ALL_TOOLS):
    agent = ToolCallingAgent(
        tools=[tool(account) for tool in tools], model=model, max_steps=30, verbosity_level=LogLevel.OFF
    )
    task = (f"Turn: {turn}\n" if turn else "") + "Time: 2025-03-03T15:00\n\nTrade as your strategy says."
    result = agent.run(task, return_full_result=True)
    steps = [s for s in agent.memory.steps if isinstance(s, ActionStep)]
    calls = [(c.name, c.arguments) for s in steps for c in s.tool_calls or []]
    return result, steps, calls


@pytest.mark.parametrize("style", STYLES)
def test_each_style_reads_researches_trades_and_appraises(style: str) -> None:
    account = PaperAccount()
    result, steps, calls = run(OfflineStrategyModel(style), account)

    assert result.state == "success" and isinstance(result.output, str) and result.output.strip()
    assert [c.name for c in steps[0].tool_calls] == ["get_balance", "get_holdings"]
    (research,) = steps[1].tool_calls  # every symbol's history in one call
    assert research.name == "get_price_histories" and research.arguments["days"] == 60
    assert 1 <= len(research.arguments["symbols"]) <= 12
    assert calls[-1][0] == "final_answer" and len(steps) < 30
    trades = [c for c in calls if c[0] in ("buy_shares", "sell_shares")]
    assert trades and len(trades) == len(account.trades) and not account.rejections
    assert account.cash >= 0 and all(q >= 0 for q in account.holdings.values())
    assert "bought" in result.output and f"${account.cash:,.2f}" in result.output


@pytest.mark.parametrize("style", STYLES)
def test_with_only_the_single_history_tool_each_symbol_is_asked_for_on_its_own(style: str) -> None:
    batch_account, single_account = PaperAccount(), PaperAccount()
    batch_result, batch_steps, _ = run(OfflineStrategyModel(style), batch_account)
    result, steps, _ = run(OfflineStrategyModel(style), single_account, tools=SINGLE_HISTORY_TOOLS)
    assert {c.name for c in steps[1].tool_calls} == {"get_price_history"}
    asked = [c.arguments["symbol"] for c in steps[1].tool_calls]
    assert asked == batch_steps[1].tool_calls[0].arguments["symbols"]
    assert result.output == batch_result.output and single_account.trades == batch_account.trades


def test_rebalance_sells_first_and_moves_towards_the_targets() -> None:
    account = PaperAccount(cash="300", holdings={"SPY": 17})
    result, _, calls = run(OfflineStrategyModel("risk_parity"), account, "rebalance")
    sides = [name for name, _ in calls if name.endswith("_shares")]
    assert sides[0] == "sell_shares" and "buy_shares" in sides
    assert account.trades[0].symbol == "SPY" and 0 < account.holdings["SPY"] < 17
    assert result.state == "success" and "rebalance turn" in result.output


def test_a_turn_without_a_turn_line_is_a_trade_turn_and_may_hold() -> None:
    account = PaperAccount(cash="5")
    result, steps, calls = run(OfflineStrategyModel("value"), account, turn=None)
    assert result.state == "success" and "trade turn" in result.output and "held" in result.output
    assert [name for name, _ in calls][-1] == "final_answer" and len(steps) == 3
    assert account.trades == []


def test_a_rejected_buy_is_an_observation_not_a_crash() -> None:
    account = PaperAccount()
    account.reject_buys_with = "the market for this symbol is halted"
    result, _, calls = run(OfflineStrategyModel("crypto_momentum"), account)
    attempts = [c for c in calls if c[0] == "buy_shares"]
    assert attempts and len(account.rejections) == len(attempts) and account.trades == []
    assert result.state == "success" and "did not go through" in result.output
    assert "halted" in result.output and account.cash == Decimal("10000")


def test_a_buy_tool_that_raises_is_not_retried_and_the_turn_still_ends() -> None:
    account = PaperAccount()
    account.raise_on_buy = True
    result, steps, _ = run(OfflineStrategyModel("value"), account)
    failed = [s for s in steps if s.error is not None]
    assert failed and result.state == "success" and "did not go through" in result.output
    assert "went away" in result.output and len(steps) <= 3 + 6


def test_a_missing_trading_tool_ends_the_turn_with_a_note() -> None:
    account = PaperAccount()
    tools = (GetBalance, GetHoldings, GetPriceHistory, SellShares)
    result, _, calls = run(OfflineStrategyModel("bold"), account, tools=tools)
    assert "buy_shares" not in [name for name, _ in calls] and account.trades == []
    assert result.state == "success" and "tool is missing" in result.output


def test_two_runs_with_one_model_make_the_same_calls() -> None:
    model = OfflineStrategyModel("bold")
    first_account, second_account = PaperAccount(), PaperAccount()
    first = run(model, first_account)
    second = run(model, second_account)
    assert first[2] == second[2] and first[0].output == second[0].output
    assert [s.model_output_message.tool_calls[0].id for s in first[1]] == [
        s.model_output_message.tool_calls[0].id for s in second[1]
    ]
    assert first_account.cash == second_account.cash and first_account.holdings == second_account.holdings


def test_model_id_names_the_style_and_unknown_styles_are_refused() -> None:
    assert OfflineStrategyModel("value").model_id == "offline/value"
    with pytest.raises(ValueError):
        OfflineStrategyModel("yolo")


def test_tool_records_are_found_among_other_text() -> None:
    balance = Balance(trader=TRADER, cash=12.5).model_dump_json(indent=2)
    history = PriceHistory(symbol="KO", closes=[DailyCloseResult(day=date(2025, 1, 2), close=61.0)])
    text = f'Observation:\n{balance}\nnot json {{ at all }}\n{history.model_dump_json(indent=2)}\n{{"x": 1}}'
    assert [r["kind"] for r in tool_records(text)] == ["balance", "history"]
    transcript = read_transcript([{"role": "user", "content": "New task:\nTurn: REBALANCE\n"}])
    assert transcript.turn == "rebalance" and transcript.steps == []


def test_a_transcript_without_our_tags_is_read_from_its_tool_calls() -> None:
    account = PaperAccount(holdings={"GLD": 3})
    calls = "[{'id': 'x1', 'type': 'function', 'function': {'name': 'get_balance', 'arguments': {}}}, "
    calls += "{'id': 'x2', 'type': 'function', 'function': {'name': 'get_holdings', 'arguments': {}}}]"
    messages = [
        {"role": "system", "content": "You are a trader."},
        {"role": "user", "content": [{"type": "text", "text": "New task:\nTurn: rebalance\nTime: now"}]},
        {"role": "assistant", "content": "Let me look at my account."},
        {"role": "tool-call", "content": f"Calling tools:\n{calls}"},
        {
            "role": "tool-response",
            "content": "Observation:\n" + GetBalance(account)() + "\n" + GetHoldings(account)(),
        },
    ]
    tools = [tool(account) for tool in SINGLE_HISTORY_TOOLS]
    reply = OfflineStrategyModel("risk_parity").generate(messages, tools_to_call_from=tools)
    symbols = [c.function.arguments["symbol"] for c in reply.tool_calls]
    assert {c.function.name for c in reply.tool_calls} == {"get_price_history"} and "GLD" in symbols
    assert reply.tool_calls[0].id == "call_2_00" and read_transcript(messages).turn == "rebalance"
    assert read_transcript(messages).steps[0].tag == "account"
