"""A turn's way to its tools: one session per kind, each listing its tools once, every call
bounded in time, and a service that went away a clear reason instead of a hang."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import timedelta

import anyio
import pytest
from mcp.server.fastmcp import FastMCP
from starlette.applications import Starlette
from starlette.routing import Mount

from floor import tool_access
from floor.agents.tool_servers import ToolPass, ToolService, ToolServiceUnavailable, open_tools
from floor.market.factory import build_market
from servers.service import ToolServiceThread, build_tool_app


class Counting:
    """ASGI wrapper counting JSON-RPC methods by path, around the real app."""

    def __init__(self, app) -> None:
        self.app, self.seen = app, Counter()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            if scope["type"] == "http":
                self.seen[(scope["path"], scope["method"])] += 1
            return await self.app(scope, receive, send)

        async def counted():
            message = await receive()
            self.seen[(scope["path"], json.loads(message.get("body") or b"{}").get("method"))] += 1
            return message

        return await self.app(scope, counted, send)


def token(engine, trader="Warren", kinds=("accounts", "market")) -> str:
    return tool_access.issue_token(
        engine,
        trader,
        turn_key=f"t-{time.time_ns()}",
        cycle_id=None,
        kinds=frozenset(kinds),
        ttl=timedelta(minutes=5),
    )


def test_each_session_initialises_and_lists_its_tools_once(floor, settings):
    app = Counting(build_tool_app(settings, floor, build_market(settings)))
    with ToolServiceThread(app) as running:
        access = ToolPass(ToolService(running.url, 10), token(floor))
        with open_tools(access, ["accounts", "market"]) as tools:
            by_name = {tool.name: tool for tool in tools}
            balance = json.loads(by_name["get_balance"]())
            time.sleep(1.2)  # past the SDK's one-second pause before it asks for the event stream again
    assert balance["cash"] == 10000
    assert {"buy_shares", "get_price_history"} <= by_name.keys()
    for kind in ("accounts", "market"):
        assert app.seen[(f"/mcp/{kind}/", "initialize")] == 1
        assert app.seen[(f"/mcp/{kind}/", "tools/list")] == 1
        assert app.seen[(f"/mcp/{kind}/", "DELETE")] == 1  # the session is ended, not left behind
        assert app.seen[(f"/mcp/{kind}/", "GET")] == 0  # the event stream it does not serve is not asked for
    assert app.seen[("/mcp/accounts/", "tools/call")] == 1


def test_an_argument_with_a_default_may_be_left_out_and_one_without_may_not(floor, settings, tool_service):
    from smolagents.tools import validate_tool_arguments

    with open_tools(ToolPass(tool_service, token(floor)), ["market"]) as tools:
        history = next(tool for tool in tools if tool.name == "get_price_history")
        validate_tool_arguments(history, {"symbol": "GLD"})  # as the agent checks a model's call
        closes = json.loads(history(symbol="GLD"))["closes"]
        with pytest.raises(ValueError, match="Argument symbol is required"):
            validate_tool_arguments(history, {"days": 5})
    assert len(closes) == 30  # the server's default


def stalling_service() -> Starlette:
    """A stand-in for a service that accepts a call and never answers it."""
    server = FastMCP("stalls", json_response=True, streamable_http_path="/")

    @server.tool()
    async def get_balance() -> str:
        await anyio.sleep(60)
        return "never"

    app = server.streamable_http_app()
    return Starlette(
        routes=[Mount("/mcp/accounts", app=app)], lifespan=lambda _: server.session_manager.run()
    )


def test_a_call_the_service_never_answers_fails_after_the_timeout():
    with ToolServiceThread(stalling_service()) as running:
        access = ToolPass(ToolService(running.url, call_timeout_seconds=0.5), "tf-anything")
        with open_tools(access, ["accounts"]) as tools:
            start = time.monotonic()
            with pytest.raises(ToolServiceUnavailable, match="did not answer within 0.5 s"):
                tools[0]()
    assert time.monotonic() - start < 5


def test_a_service_that_went_away_fails_the_next_call_with_the_reason(floor, settings):
    running = ToolServiceThread(build_tool_app(settings, floor, build_market(settings))).start()
    access = ToolPass(ToolService(running.url, 5), token(floor))
    with open_tools(access, ["accounts"]) as tools:
        running.stop()
        start = time.monotonic()
        with pytest.raises(ToolServiceUnavailable, match="connection to the tool service .* was lost"):
            next(t for t in tools if t.name == "get_balance")()
        assert time.monotonic() - start < 10


def test_no_service_at_all_is_a_clear_error(floor):
    access = ToolPass(ToolService("http://127.0.0.1:9", 5), token(floor))
    with pytest.raises(ToolServiceUnavailable, match=r"tool service at http://127.0.0.1:9 did not answer"):
        with open_tools(access, ["accounts", "market"]):
            pass
