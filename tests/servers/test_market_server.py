"""The market MCP server through a real MCP client session."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp.shared.memory import create_connected_server_and_client_session

from floor.market.cache import PriceBook, latest_quotes
from floor.market.simulated import SimulatedMarket
from servers.binding import TraderBinding
from servers.market_server import build_market_server


def call(engine, name, args):
    binding = TraderBinding(trader="Warren", engine=engine, prices=PriceBook(engine, SimulatedMarket()))

    async def scenario():
        async with create_connected_server_and_client_session(build_market_server(binding)) as session:
            tools = {t.name for t in (await session.list_tools()).tools}
            return tools, await session.call_tool(name, args)

    return anyio.run(scenario)


def test_tool_names_and_a_price_that_is_cached(floor):
    tools, result = call(floor, "lookup_share_price", {"symbol": " msft "})
    assert tools == {"lookup_share_price", "get_price_history", "get_price_histories", "is_market_open"}
    quote = json.loads(result.content[0].text)
    assert quote["symbol"] == "MSFT" and quote["price"] > 0 and quote["source"] == "simulated"
    assert float(latest_quotes(floor, ["MSFT"])["MSFT"].price) == quote["price"]


def test_history_is_oldest_first_and_bounded(floor):
    _, result = call(floor, "get_price_history", {"symbol": "GLD", "days": 20})
    closes = json.loads(result.content[0].text)["closes"]
    assert len(closes) == 20 and closes == sorted(closes, key=lambda c: c["day"])
    _, too_long = call(floor, "get_price_history", {"symbol": "GLD", "days": 5000})
    assert too_long.isError and "between 1 and 365" in too_long.content[0].text


def test_a_batch_of_histories_is_each_symbols_own_history_in_the_order_asked(floor):
    _, result = call(floor, "get_price_histories", {"symbols": ["gld", "AAPL"], "days": 20})
    batch = json.loads(result.content[0].text)
    assert batch["kind"] == "histories" and [h["symbol"] for h in batch["histories"]] == ["GLD", "AAPL"]
    for history in batch["histories"]:
        _, single = call(floor, "get_price_history", {"symbol": history["symbol"], "days": 20})
        assert history == json.loads(single.content[0].text)


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"symbols": []}, "1 to 20 symbols, got 0"),
        ({"symbols": [f"S{i}" for i in range(21)]}, "1 to 20 symbols, got 21"),
        ({"symbols": ["AAPL", "aapl"]}, "listed more than once: AAPL"),
        ({"symbols": ["AAPL", "ZZZZ"]}, "unknown symbol ZZZZ"),
        ({"symbols": "AAPL"}, "a list (JSON array)"),
        ({"symbols": ["AAPL"], "days": 0}, "between 1 and 365"),
        ({"symbols": ["AAPL"], "day": 5}, "day"),
    ],
)
def test_a_bad_batch_is_refused_whole_with_a_reason(floor, arguments, reason):
    _, result = call(floor, "get_price_histories", arguments)
    assert result.isError and reason in result.content[0].text, result.content[0].text


@pytest.mark.parametrize(
    ("symbol", "reason"), [("ZZZZ", "unknown symbol"), ("", "empty"), ("1; DROP", "not a ticker")]
)
def test_bad_symbols_are_refused_with_a_reason(floor, symbol, reason):
    _, result = call(floor, "lookup_share_price", {"symbol": symbol})
    assert result.isError and reason in result.content[0].text


def test_is_market_open_answers_with_the_calendar(floor):
    _, result = call(floor, "is_market_open", {})
    status = json.loads(result.content[0].text)
    assert isinstance(status["open"], bool) and (status["next_open"] or status["next_close"])
