"""The push MCP server through real MCP client sessions, notifying a real HTTP receiver via apprise."""

from __future__ import annotations

import json
import os
import socket
import sys

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.memory import create_connected_server_and_client_session

from floor.errors import ConfigurationError
from floor.notify import build_notifier
from floor.settings import Settings
from servers.push_server import build_push_server
from tests.fakes.web_server import WebServer


def bound(trader: str):
    """A fixed binding, as ``floor mcp push --trader NAME`` makes (push reads only the name)."""
    from floor.market.cache import PriceBook
    from floor.market.simulated import SimulatedMarket
    from servers.binding import TraderBinding

    return TraderBinding(trader=trader, engine=None, prices=PriceBook(None, SimulatedMarket()))


SECRET = "s3cretPassw0rd"


def push(settings: Settings, message: str = "Bought 3 AAPL for the long run."):
    async def scenario():
        server = build_push_server(build_notifier(settings), bound("Warren"))
        async with create_connected_server_and_client_session(server) as session:
            tools = {t.name for t in (await session.list_tools()).tools}
            return tools, await session.call_tool("push", {"message": message})

    return anyio.run(scenario)


def outcome(result) -> dict:
    assert not result.isError, result.content[0].text
    return json.loads(result.content[0].text)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sent_to_an_apprise_json_target():
    with WebServer() as web:
        web.receiver("/notify")
        tools, result = push(Settings(_env_file=None, apprise_urls=f"json://127.0.0.1:{web.port}/notify"))
        received = web.requests_to("/notify")
    assert tools == {"push"}
    assert outcome(result) == {"kind": "push", "status": "sent", "detail": "sent to JSON"}
    assert len(received) == 1 and received[0].method == "POST"
    payload = received[0].json()
    assert payload["message"] == "Bought 3 AAPL for the long run."
    assert payload["title"] == "Trading Floor: Warren"


def test_not_configured_says_so():
    _, result = push(Settings(_env_file=None))
    got = outcome(result)
    assert got["status"] == "not configured"
    assert "PUSHOVER_USER" in got["detail"]


def test_receiver_answering_500_is_a_failure_and_the_secret_is_not_echoed():
    with WebServer() as web:
        web.receiver("/notify", status=500)
        url = f"json://floor:{SECRET}@127.0.0.1:{web.port}/notify"
        _, result = push(Settings(_env_file=None, apprise_urls=url))
        assert web.requests_to("/notify")[0].status == 500
    got = outcome(result)
    assert got["status"] == "failed"
    assert got["detail"].startswith("not delivered to JSON")
    assert "500" in got["detail"]
    assert SECRET not in json.dumps(got)


def test_refused_connection_is_a_failure():
    _, result = push(Settings(_env_file=None, apprise_urls=f"json://127.0.0.1:{closed_port()}/"))
    got = outcome(result)
    assert got["status"] == "failed" and "JSON" in got["detail"]


def test_one_target_failing_of_two_is_reported_truthfully():
    with WebServer() as good, WebServer() as bad:
        good.receiver("/n")
        bad.receiver("/n", status=503)
        urls = f"json://127.0.0.1:{good.port}/n, json://127.0.0.1:{bad.port}/n"
        _, result = push(Settings(_env_file=None, apprise_urls=urls))
        assert len(good.requests_to("/n")) == 1
    got = outcome(result)
    assert got["status"] == "failed"
    assert "sent to JSON" in got["detail"] and "not delivered to JSON" in got["detail"]


@pytest.mark.parametrize(("message", "reason"), [("   ", "empty"), ("x" * 1025, "at most 1024")])
def test_bad_messages_are_tool_errors_and_send_nothing(message, reason):
    with WebServer() as web:
        web.receiver("/notify")
        _, result = push(
            Settings(_env_file=None, apprise_urls=f"json://127.0.0.1:{web.port}/notify"), message
        )
        assert web.requests == []
    assert result.isError and reason in result.content[0].text


def test_bad_configuration_is_refused_without_echoing_it():
    with pytest.raises(ConfigurationError, match="entry 1 is not a URL") as info:
        build_notifier(Settings(_env_file=None, apprise_urls=f"nonsense://{SECRET}@host"))
    assert SECRET not in str(info.value)
    with pytest.raises(ConfigurationError, match="needs both"):
        build_notifier(Settings(_env_file=None, pushover_user="u" * 30))


def test_floor_mcp_push_over_stdio(floor):
    with WebServer() as web:
        web.receiver("/notify")
        env = {**os.environ, "APPRISE_URLS": f"json://127.0.0.1:{web.port}/notify"}
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "deployments.cli", "mcp", "push", "--trader", "george"],
            env=env,
        )

        async def scenario():
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await session.call_tool("push", {"message": "Sold TLT."})

        result = anyio.run(scenario)
        received = web.requests_to("/notify")
    assert outcome(result)["status"] == "sent"
    assert received[0].json()["title"] == "Trading Floor: George"
