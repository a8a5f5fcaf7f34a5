"""The market MCP server over Polygon prices: it reads the cache and never calls Polygon for a price."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import anyio
import pytest
from mcp.shared.memory import create_connected_server_and_client_session

from floor.market import Quote
from floor.market.cache import PriceBook, store_quotes
from floor.market.calendar import last_closed_session, sessions_until
from floor.runs.cycles import start_cycle
from servers.binding import TraderBinding
from servers.market_server import build_market_server
from tests.fakes.polygon_server import Fault, PolygonServer
from tests.floor.market.test_polygon import KEY, market_for


@pytest.fixture
def polygon():
    with PolygonServer(api_key=KEY) as server:
        yield server


def call(engine, polygon, cycle_id, name, args):
    book = PriceBook(engine, market_for(polygon), cycle_id)
    binding = TraderBinding(trader="Warren", engine=engine, prices=book, cycle_id=cycle_id)

    async def scenario():
        async with create_connected_server_and_client_session(build_market_server(binding)) as session:
            return await session.call_tool(name, args)

    return anyio.run(scenario)


def test_prices_come_from_the_cycle_cache_with_their_staleness(floor, polygon):
    cycle_id = start_cycle(floor, forced=True, flow_run_id=None)
    as_of = datetime.now(UTC) - timedelta(hours=26)
    store_quotes(
        floor,
        [
            Quote("AAPL", Decimal("231.5"), as_of, "polygon-free"),
            Quote("MSFT", Decimal("410.25"), as_of, "polygon-free", stale=True),
        ],
        cycle_id,
    )
    fresh = json.loads(
        call(floor, polygon, cycle_id, "lookup_share_price", {"symbol": "aapl"}).content[0].text
    )
    stale = json.loads(
        call(floor, polygon, cycle_id, "lookup_share_price", {"symbol": "MSFT"}).content[0].text
    )
    missing = call(floor, polygon, cycle_id, "lookup_share_price", {"symbol": "GLD"})
    unknown = call(floor, polygon, cycle_id, "lookup_share_price", {"symbol": "ZZZZ"})

    assert (fresh["price"], fresh["source"], fresh["stale"], fresh["age_minutes"]) == (
        231.5,
        "polygon-free",
        False,
        None,
    )
    assert stale["stale"] and 26 * 60 - 1 <= stale["age_minutes"] <= 26 * 60 + 1
    assert missing.isError and "no price for GLD" in missing.content[0].text
    assert unknown.isError and "unknown symbol ZZZZ" in unknown.content[0].text
    assert polygon.count() == 0


def test_history_asks_polygon_once_then_reads_the_cache(floor, polygon):
    sessions = sessions_until(last_closed_session(datetime.now(UTC)), 3)
    for n, day in enumerate(sessions):
        polygon.set_closes(day, {"GLD": 190.0 + n})
    for _ in range(3):
        result = call(floor, polygon, None, "get_price_history", {"symbol": "GLD", "days": 3})
        assert not result.isError, result.content[0].text
    closes = json.loads(result.content[0].text)["closes"]
    assert [(c["day"], c["close"]) for c in closes] == [
        (d.isoformat(), 190.0 + n) for n, d in enumerate(sessions)
    ]
    assert polygon.count("aggs") == 1


def test_a_batch_of_histories_asks_polygon_once_per_symbol_then_reads_the_cache(floor, polygon):
    sessions = sessions_until(last_closed_session(datetime.now(UTC)), 3)
    for n, day in enumerate(sessions):
        polygon.set_closes(day, {"GLD": 190.0 + n, "AAPL": 230.0 + n})
    for _ in range(3):
        result = call(floor, polygon, None, "get_price_histories", {"symbols": ["GLD", "AAPL"], "days": 3})
        assert not result.isError, result.content[0].text
    batch = json.loads(result.content[0].text)["histories"]
    assert [[c["close"] for c in h["closes"]] for h in batch] == [
        [190.0, 191.0, 192.0],
        [230.0, 231.0, 232.0],
    ]
    assert polygon.count("aggs") == 2


def test_is_market_open_counts_extended_hours_when_configured(floor, polygon):
    from floor.market.calendar import market_status

    binding = TraderBinding(trader="Warren", engine=floor, prices=PriceBook(floor, market_for(polygon)))

    async def ask(open_sessions: str):
        server = build_market_server(binding, frozenset(open_sessions.split(",")))
        async with create_connected_server_and_client_session(server) as session:
            return json.loads((await session.call_tool("is_market_open", {})).content[0].text)

    regular, extended = anyio.run(ask, "open"), anyio.run(ask, "extended-hours,open")
    session = market_status(datetime.now(UTC)).session
    assert regular["session"] == extended["session"] == session
    assert regular["open"] == (session == "open")
    assert extended["open"] == (session in ("open", "extended-hours"))
    assert polygon.count() == 0  # the calendar answers, not the API


def test_history_the_api_cannot_give_is_a_tool_error_the_agent_can_read(floor, polygon):
    polygon.fail_always(Fault(403))
    result = call(floor, polygon, None, "get_price_history", {"symbol": "GLD", "days": 5})
    assert result.isError
    assert "price history of GLD is unavailable" in result.content[0].text
    assert "POLYGON_PLAN=free" in result.content[0].text
