"""The accounts MCP server through a real MCP client: in-memory sessions and stdio processes."""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.memory import create_connected_server_and_client_session
from sqlalchemy import select

from floor.market.cache import PriceBook
from floor.market.simulated import SimulatedMarket
from floor.schema import accounts, positions, transactions
from servers.accounts_server import build_accounts_server
from servers.binding import TraderBinding

TOOLS = {"get_balance", "get_holdings", "buy_shares", "sell_shares", "change_strategy"}


def account_state(engine, trader="Warren"):
    with engine.connect() as conn:
        account = conn.execute(select(accounts).where(accounts.c.name == trader)).one()
        held = dict(
            conn.execute(
                select(positions.c.symbol, positions.c.shares).where(positions.c.account_id == account.id)
            ).all()
        )
        txs = conn.execute(
            select(transactions.c.side, transactions.c.symbol, transactions.c.quantity, transactions.c.total)
            .where(transactions.c.account_id == account.id)
            .order_by(transactions.c.id)
        ).all()
    return account.cash, held, txs


def assert_ledger_identity(engine, trader="Warren"):
    """cash = 10,000 - buys + sells to the cent; holdings = bought - sold; nothing negative."""
    cash, held, txs = account_state(engine, trader)
    expected_cash = Decimal("10000.00")
    expected_held: dict[str, int] = {}
    for side, symbol, quantity, total in txs:
        sign = 1 if side == "buy" else -1
        expected_cash -= sign * total
        expected_held[symbol] = expected_held.get(symbol, 0) + sign * quantity
    assert cash == expected_cash and cash >= 0
    assert held == {s: n for s, n in expected_held.items() if n}
    assert all(n > 0 for n in held.values())


def in_memory(engine, trader="Warren"):
    binding = TraderBinding(trader=trader, engine=engine, prices=PriceBook(engine, SimulatedMarket()))
    return create_connected_server_and_client_session(build_accounts_server(binding))


def call(engine, *calls, trader="Warren"):
    """Run tool calls in one in-memory session; returns their results."""

    async def scenario():
        async with in_memory(engine, trader) as session:
            return [await session.call_tool(name, args) for name, args in calls]

    return anyio.run(scenario)


def test_tools_take_no_account_name(floor):
    async def scenario():
        async with in_memory(floor) as session:
            return (await session.list_tools()).tools

    tools = anyio.run(scenario)
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        params = set(tool.inputSchema.get("properties", {}))
        assert not params & {"name", "account", "account_name", "trader", "owner"}, tool.name


def test_buy_then_sell_through_the_tools(floor):
    bought, sold, holdings = call(
        floor,
        ("buy_shares", {"symbol": "aapl", "quantity": 3, "rationale": "quality"}),
        ("sell_shares", {"symbol": "AAPL", "quantity": 1, "rationale": "trim"}),
        ("get_holdings", {}),
    )
    assert not bought.isError and not sold.isError
    receipt = json.loads(bought.content[0].text)
    assert receipt["symbol"] == "AAPL" and receipt["quantity"] == 3 and receipt["side"] == "buy"
    assert json.loads(holdings.content[0].text)["holdings"] == {"AAPL": 2}
    assert_ledger_identity(floor)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"symbol": "AAPL", "quantity": 0}, "at least 1"),
        ({"symbol": "AAPL", "quantity": -3}, "at least 1"),
        ({"symbol": "AAPL", "quantity": 2.5}, "integer"),
        ({"symbol": "AAPL", "quantity": 10**9}, "absurd"),
        ({"symbol": "AAPL", "quantity": "lots"}, "integer"),
        ({"symbol": "AAPL", "quantity": 5000}, "not enough cash"),
        ({"symbol": "ZZZZ", "quantity": 1}, "unknown symbol"),
        ({"symbol": "", "quantity": 1}, "empty"),
        ({"symbol": "AAPL; DELETE FROM accounts", "quantity": 1}, "not a ticker"),
        ({"symbol": "' OR 1=1 --", "quantity": 1}, "not a ticker"),
    ],
)
def test_bad_buys_are_refused_with_a_reason_and_change_nothing(floor, args, reason):
    before = account_state(floor)
    (result,) = call(floor, ("buy_shares", {**args, "rationale": "test"}))
    assert result.isError
    assert reason in result.content[0].text.lower()
    assert account_state(floor) == before


def test_overselling_is_refused(floor):
    call(floor, ("buy_shares", {"symbol": "KO", "quantity": 2, "rationale": "x"}))
    before = account_state(floor)
    (result,) = call(floor, ("sell_shares", {"symbol": "KO", "quantity": 3, "rationale": "x"}))
    assert result.isError and "holds 2 shares" in result.content[0].text
    assert account_state(floor) == before


def test_change_strategy_and_bound_resources(floor):
    async def scenario():
        async with in_memory(floor) as session:
            changed = await session.call_tool("change_strategy", {"strategy": "Only bonds now."})
            mine = await session.read_resource("accounts://strategy/Warren")
            report = await session.read_resource("accounts://accounts_server/Warren")
            try:
                await session.read_resource("accounts://accounts_server/George")
                other = None
            except Exception as exc:  # noqa: BLE001 - the server answers with an MCP error
                other = str(exc)
            return changed, mine, report, other

    changed, mine, report, other = anyio.run(scenario)
    assert not changed.isError
    assert mine.contents[0].text == "Only bonds now."
    assert json.loads(report.contents[0].text)["name"] == "Warren"
    assert other is not None and "bound to Warren" in other


def stdio_params(trader: str) -> StdioServerParameters:
    env = {**os.environ}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "deployments.cli", "mcp", "accounts", "--trader", trader], env=env
    )


def test_floor_mcp_accounts_over_stdio(floor):
    async def scenario():
        async with stdio_client(stdio_params("Warren")) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {t.name for t in (await session.list_tools()).tools}
                bought = await session.call_tool(
                    "buy_shares", {"symbol": "SPY", "quantity": 2, "rationale": "r"}
                )
                return tools, bought

    tools, bought = anyio.run(scenario)
    assert tools == TOOLS
    assert not bought.isError, bought.content[0].text
    assert account_state(floor)[1] == {"SPY": 2}


def test_concurrent_sessions_never_break_the_ledger(floor):
    """Six stdio servers for one account, each buying and selling at once."""

    async def trader_session(i: int) -> None:
        async with stdio_client(stdio_params("Warren")) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                for _ in range(4):
                    await session.call_tool(
                        "buy_shares", {"symbol": "MSFT", "quantity": 3, "rationale": f"{i}"}
                    )
                    await session.call_tool(
                        "buy_shares", {"symbol": "KO", "quantity": 10, "rationale": f"{i}"}
                    )
                    await session.call_tool(
                        "sell_shares", {"symbol": "MSFT", "quantity": 2, "rationale": f"{i}"}
                    )

    async def scenario():
        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(trader_session, i)

    anyio.run(scenario)
    cash, held, txs = account_state(floor)
    assert len(txs) > 10  # many trades filled, and some were refused for cash or shares
    assert_ledger_identity(floor)


def test_a_retried_turn_replays_its_orders_instead_of_trading_twice(floor):
    """Two sessions of the same turn (a crash, then a retry) placing the same orders."""

    async def session(turn_key: str):
        binding = TraderBinding(
            trader="Warren", engine=floor, prices=PriceBook(floor, SimulatedMarket()), turn_key=turn_key
        )
        async with create_connected_server_and_client_session(build_accounts_server(binding)) as client:
            results = []
            for args in (
                {"symbol": "AAPL", "quantity": 3},
                {"symbol": "KO", "quantity": 5},
                {"symbol": "KO", "quantity": 5},
            ):
                result = await client.call_tool("buy_shares", {**args, "rationale": "r"})
                results.append(json.loads(result.content[0].text))
            return results

    first = anyio.run(session, "cycle-7:Warren")
    again = anyio.run(session, "cycle-7:Warren")
    assert [r["duplicate"] for r in first] == [False, False, False]
    assert [r["duplicate"] for r in again] == [True, True, True]
    assert [r["transaction_id"] for r in again] == [r["transaction_id"] for r in first]
    cash, held, txs = account_state(floor)
    assert held == {"AAPL": 3, "KO": 10} and len(txs) == 3
    anyio.run(session, "cycle-8:Warren")  # the next cycle's turn trades anew
    assert len(account_state(floor)[2]) == 6
