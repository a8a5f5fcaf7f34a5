"""The memory MCP server through real MCP client sessions: in-memory and over stdio."""

from __future__ import annotations

import json
import os
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.memory import create_connected_server_and_client_session

from floor import memory
from servers.memory_server import build_memory_server

TOOLS = {
    "create_entities",
    "create_relations",
    "add_observations",
    "delete_entities",
    "delete_observations",
    "delete_relations",
    "read_graph",
    "search_nodes",
    "open_nodes",
}


def bound(engine, trader):
    from floor.market.cache import PriceBook
    from floor.market.simulated import SimulatedMarket
    from servers.binding import TraderBinding

    return TraderBinding(trader=trader, engine=engine, prices=PriceBook(engine, SimulatedMarket()))


def call(engine, *calls, trader="Warren"):
    async def scenario():
        async with create_connected_server_and_client_session(
            build_memory_server(bound(engine, trader))
        ) as session:
            tools = (await session.list_tools()).tools
            return tools, [await session.call_tool(name, args) for name, args in calls]

    return anyio.run(scenario)


def body(result):
    """The one JSON object a tool answers with (what smolagents' MCP client reads)."""
    assert not result.isError, result.content[0].text
    assert len(result.content) == 1
    return json.loads(result.content[0].text)


def test_the_reference_tool_names_and_no_trader_parameter(floor):
    tools, _ = call(floor)
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert not set(tool.inputSchema.get("properties", {})) & {"trader", "name", "account"}, tool.name
    create = next(t for t in tools if t.name == "create_entities")
    item = json.dumps(create.inputSchema)
    assert "entityType" in item and "observations" in item


def test_a_session_builds_searches_and_prunes_the_graph(floor):
    _, results = call(
        floor,
        (
            "create_entities",
            {
                "entities": [
                    {"name": "NVDA", "entityType": "company", "observations": ["Makes GPUs"]},
                    {"name": "TSMC", "entityType": "company", "observations": []},
                ]
            },
        ),
        ("create_relations", {"relations": [{"from": "TSMC", "to": "NVDA", "relationType": "supplies"}]}),
        ("add_observations", {"observations": [{"entityName": "TSMC", "contents": ["Foundry in Taiwan"]}]}),
        ("search_nodes", {"query": "taiwan"}),
        ("open_nodes", {"names": ["NVDA", "TSMC"]}),
        ("delete_observations", {"deletions": [{"entityName": "NVDA", "observations": ["Makes GPUs"]}]}),
        ("delete_relations", {"relations": [{"from": "TSMC", "to": "NVDA", "relationType": "supplies"}]}),
        ("delete_entities", {"entityNames": ["TSMC"]}),
        ("read_graph", {}),
    )
    created, related, added, found, opened, *_, graph = [body(r) for r in results]
    assert [e["name"] for e in created["created"]] == ["NVDA", "TSMC"]
    assert related["created"] == [{"from": "TSMC", "to": "NVDA", "relationType": "supplies"}]
    assert added["added"] == [{"entityName": "TSMC", "addedObservations": ["Foundry in Taiwan"]}]
    assert [e["name"] for e in found["entities"]] == ["TSMC"]
    assert len(opened["entities"]) == 2 and len(opened["relations"]) == 1
    assert graph == {
        "entities": [{"name": "NVDA", "entityType": "company", "observations": []}],
        "relations": [],
    }


def test_bad_input_is_a_tool_error_and_changes_nothing(floor):
    memory.create_entities(floor, "Warren", [memory.Entity(name="NVDA", entity_type="company")])
    before = memory.read_graph(floor, "Warren")
    _, results = call(
        floor,
        ("add_observations", {"observations": [{"entityName": "Ghost", "contents": ["boo"]}]}),
        ("create_entities", {"entities": [{"name": "", "entityType": "x"}]}),
        (
            "create_entities",
            {"entities": [{"name": "Long", "entityType": "x", "observations": ["y" * 5000]}]},
        ),
        ("create_relations", {"relations": [{"from": "NVDA", "to": "AMD", "relationType": "rival"}]}),
        ("create_entities", {"entities": [{"name": "NoType"}]}),
    )
    texts = [r.content[0].text for r in results]
    assert all(r.isError for r in results), texts
    assert "no entity named 'Ghost'" in texts[0]
    assert "entity name is empty" in texts[1]
    assert "at most 2000" in texts[2]
    assert "no entity named 'AMD'" in texts[3]
    assert "entityType" in texts[4]
    assert memory.read_graph(floor, "Warren") == before


def test_servers_are_bound_to_their_trader(floor):
    call(floor, ("create_entities", {"entities": [{"name": "Gold", "entityType": "asset"}]}), trader="George")
    _, (graph,) = call(floor, ("read_graph", {}), trader="Warren")
    assert body(graph) == {"entities": [], "relations": []}


def test_floor_mcp_memory_over_stdio_persists_in_postgres(floor):
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "deployments.cli", "mcp", "memory", "--trader", "cathie"],
        env={**os.environ},
    )

    async def scenario():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {t.name for t in (await session.list_tools()).tools}
                created = await session.call_tool(
                    "create_entities",
                    {"entities": [{"name": "ARKK", "entityType": "etf", "observations": ["Innovation ETF"]}]},
                )
                return tools, created

    tools, created = anyio.run(scenario)
    assert tools == TOOLS
    assert not created.isError, created.content[0].text
    graph = memory.read_graph(floor, "Cathie")
    assert [(e.name, e.observations) for e in graph.entities] == [("ARKK", ["Innovation ETF"])]
