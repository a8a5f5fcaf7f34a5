"""The tool service over real HTTP with a real MCP client: the token, never an argument, decides."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from sqlalchemy import select

from floor import tool_access
from floor.schema import tool_tokens
from floor.tool_access import SERVER_KINDS
from tests.servers.test_accounts_server import TOOLS, account_state, assert_ledger_identity

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def token_for(engine, trader, kinds=SERVER_KINDS, ttl=timedelta(hours=1), turn_key=None, now=None):
    return tool_access.issue_token(
        engine, trader, turn_key=turn_key or f"turn-{trader}", cycle_id=None, kinds=kinds, ttl=ttl, now=now
    )


async def session_calls(service, kind, token, *calls):
    """Open an MCP session at ``kind``'s endpoint with ``token``; list tools, then run ``calls``."""
    async with streamablehttp_client(
        service.endpoint(kind), headers={"Authorization": f"Bearer {token}"}
    ) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            return tools, [await session.call_tool(name, args) for name, args in calls]


def post_initialize(service, kind, headers=None):
    return httpx.post(
        service.endpoint(kind), json=INITIALIZE, headers={**MCP_HEADERS, **(headers or {})}, timeout=10
    )


def test_a_token_lists_its_tools_trades_and_sees_only_its_own_account(floor, tool_service):
    warren, george = token_for(floor, "Warren"), token_for(floor, "George")
    george_before = account_state(floor, "George")
    tools, (bought, balance) = anyio.run(
        session_calls,
        tool_service,
        "accounts",
        warren,
        ("buy_shares", {"symbol": "AAPL", "quantity": 3, "rationale": "quality"}),
        ("get_balance", {}),
    )
    assert tools == TOOLS
    receipt = json.loads(bought.content[0].text)
    assert receipt["trader"] == "Warren" and receipt["quantity"] == 3
    assert json.loads(balance.content[0].text)["trader"] == "Warren"
    assert account_state(floor, "George") == george_before
    assert_ledger_identity(floor, "Warren")

    _, (holdings,) = anyio.run(session_calls, tool_service, "accounts", george, ("get_holdings", {}))
    george_sees = json.loads(holdings.content[0].text)
    assert george_sees["trader"] == "George" and george_sees["holdings"] == {}


def test_the_account_resource_answers_for_the_token_holder_only(floor, tool_service):
    warren = token_for(floor, "Warren")

    async def scenario():
        async with streamablehttp_client(
            tool_service.endpoint("accounts"), headers={"Authorization": f"Bearer {warren}"}
        ) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                mine = await session.read_resource("accounts://accounts_server/Warren")
                try:
                    await session.read_resource("accounts://accounts_server/George")
                except Exception as exc:  # noqa: BLE001 - the SDK raises McpError for a refused read
                    return mine, str(exc)
                return mine, None

    mine, refused = anyio.run(scenario)
    assert json.loads(mine.contents[0].text)["name"] == "Warren"
    assert refused and "bound to Warren" in refused


def test_every_kind_is_served_and_the_token_decides_the_trader(floor, tool_service):
    token = token_for(floor, "Cathie")
    for kind, call in [
        ("market", ("lookup_share_price", {"symbol": "AAPL"})),
        ("memory", ("read_graph", {})),
        ("push", ("push", {"message": "hello"})),
        ("research", ("fetch", {"url": "http://127.0.0.1:9/"})),
    ]:
        tools, (result,) = anyio.run(session_calls, tool_service, kind, token, call)
        assert call[0] in tools, kind
        if kind in ("market", "memory", "push"):
            assert not result.isError, (kind, result.content[0].text)
    assert not httpx.get(f"{tool_service.url}/health", timeout=5).is_error


@pytest.mark.parametrize("case", ["none", "forged", "malformed", "expired", "revoked", "wrong endpoint"])
def test_a_bad_credential_gets_401_and_nothing_runs(floor, tool_service, case):
    before = account_state(floor, "Warren")
    token = {
        "none": None,
        "forged": "tft_" + "A" * 43,
        "malformed": "not-a-token",
        "expired": token_for(
            floor, "Warren", ttl=timedelta(minutes=1), now=datetime.now(UTC) - timedelta(hours=1)
        ),
        "revoked": token_for(floor, "Warren"),
        "wrong endpoint": token_for(floor, "Warren", kinds=("market",)),
    }[case]
    if case == "revoked":
        tool_access.revoke_token(floor, token)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = post_initialize(tool_service, "accounts", headers)
    assert response.status_code == 401, response.text
    assert "Bearer" in response.headers.get("www-authenticate", "")
    assert account_state(floor, "Warren") == before


def test_a_token_revoked_mid_session_stops_working_at_once(floor, tool_service):
    token = token_for(floor, "Warren")

    outcome = {}

    async def scenario():
        async with streamablehttp_client(
            tool_service.endpoint("accounts"), headers={"Authorization": f"Bearer {token}"}
        ) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                outcome["first"] = await session.call_tool("get_balance", {})
                await anyio.to_thread.run_sync(tool_access.revoke_token, floor, token)
                with anyio.fail_after(10):
                    outcome["second"] = await session.call_tool(
                        "buy_shares", {"symbol": "KO", "quantity": 1, "rationale": "r"}
                    )

    before = account_state(floor, "Warren")
    with pytest.raises(Exception) as failure:  # noqa: B017 - the transport fails the session on the 401
        anyio.run(scenario)
    assert "401 Unauthorized" in str(failure.getrepr())
    assert not outcome["first"].isError and "second" not in outcome
    assert account_state(floor, "Warren") == before


def test_another_sites_origin_and_an_unknown_host_are_refused(floor, tool_service):
    headers = {"Authorization": f"Bearer {token_for(floor, 'Warren')}"}
    assert (
        post_initialize(tool_service, "accounts", {**headers, "Origin": "https://evil.example"}).status_code
        == 403
    )
    assert (
        post_initialize(tool_service, "accounts", {**headers, "Host": "evil.example:80"}).status_code == 421
    )
    assert post_initialize(tool_service, "accounts", headers).status_code == 200


def test_an_oversized_body_is_refused_before_it_is_read(floor, tool_service):
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token_for(floor, 'Warren')}"}
    body = json.dumps({**INITIALIZE, "padding": "x" * 2_000_000})
    response = httpx.post(tool_service.endpoint("accounts"), content=body, headers=headers, timeout=10)
    assert response.status_code == 413


def test_only_a_hash_of_each_token_is_stored(floor, tool_service):
    token = token_for(floor, "Warren")
    with floor.connect() as conn:
        stored = conn.execute(select(tool_tokens.c.token_hash)).scalars().all()
    assert token not in stored and tool_access.token_hash(token) in stored
    assert len(token) >= len("tft_") + 22  # at least 128 random bits


def test_many_concurrent_sessions_of_several_traders_keep_every_book(floor, tool_service):
    traders = ["Warren", "George", "Ray", "Cathie"]
    tokens = {t: token_for(floor, t) for t in traders}
    orders = [
        ("buy_shares", {"symbol": "AAPL", "quantity": 2, "rationale": "r"}),
        ("buy_shares", {"symbol": "KO", "quantity": 7, "rationale": "r"}),
        ("sell_shares", {"symbol": "AAPL", "quantity": 1, "rationale": "r"}),
        ("buy_shares", {"symbol": "NVDA", "quantity": 40, "rationale": "r"}),
        ("sell_shares", {"symbol": "KO", "quantity": 9, "rationale": "r"}),
    ]
    seen: dict[str, set[str]] = {t: set() for t in traders}

    async def one(trader):
        _, results = await session_calls(tool_service, "accounts", tokens[trader], *orders)
        for result in results:
            if not result.isError:
                seen[trader].add(json.loads(result.content[0].text)["trader"])

    async def scenario():
        async with anyio.create_task_group() as group:
            for trader in traders * 3:
                group.start_soon(one, trader)

    anyio.run(scenario)
    for trader in traders:
        assert seen[trader] == {trader}
        assert_ledger_identity(floor, trader)
        assert len(account_state(floor, trader)[2]) >= 3


def test_a_reused_row_id_never_hands_one_traders_binding_to_another(floor, tool_service):
    """A long-lived service outlives table resets: a new token with an old token's row id is a new turn."""
    from sqlalchemy import text

    warren = token_for(floor, "Warren")
    anyio.run(session_calls, tool_service, "accounts", warren, ("get_balance", {}))
    with floor.begin() as conn:
        conn.execute(text("TRUNCATE tool_tokens RESTART IDENTITY"))
    george = token_for(floor, "George")  # the same row id Warren's token had
    _, (balance,) = anyio.run(session_calls, tool_service, "accounts", george, ("get_balance", {}))
    assert json.loads(balance.content[0].text)["trader"] == "George"


def test_starting_the_service_leaves_the_process_logging_alone(floor, settings):
    """uvicorn's own logging setup closes every handler of the process; inside a flow run that
    flushed Prefect's API log handler under the logging lock its worker needed, and the cycle hung."""
    import logging

    from floor.market.factory import build_market
    from servers.service import ToolServiceThread, build_tool_app

    class Watched(logging.Handler):
        closed = flushed = False

        def emit(self, record):
            pass

        def flush(self):
            self.flushed = True

        def close(self):
            self.closed = True
            super().close()

    watched = Watched()
    logging.getLogger().addHandler(watched)
    try:
        with ToolServiceThread(build_tool_app(settings, floor, build_market(settings))):
            pass
        assert not watched.closed and not watched.flushed
        assert watched in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(watched)


def test_the_service_asks_the_same_question_of_a_token_as_find_grant(floor):
    """Its lookup on async connections answers exactly as tool_access.find_grant, for every case."""
    from servers.auth import GrantLookup

    live = token_for(floor, "Warren")
    revoked = token_for(floor, "George")
    tool_access.revoke_token(floor, revoked)
    expired = tool_access.issue_token(
        floor, "Ray", turn_key="old", cycle_id=None, kinds=["market"], ttl=timedelta(seconds=-1)
    )
    cases = [live, revoked, expired, "tft_unknown", "not-a-token", "", "tft_" + "x" * 300]
    lookup = GrantLookup(floor)

    async def ask_all():
        outside = [await lookup.find(t) for t in cases]  # before it runs: through a worker thread
        async with lookup.running():
            inside = [await lookup.find(t) for t in cases]
        return outside, inside

    outside, inside = anyio.run(ask_all)
    expected = [tool_access.find_grant(floor, t) for t in cases]
    assert inside == expected and outside == expected
    assert expected[0] is not None and expected[0].trader == "Warren"
    assert expected[1:] == [None] * (len(cases) - 1)


# A thread inside a handler's emit (its lock held) asks logging for a logger, as Prefect's API log
# handler does when it starts a worker; then the service starts on another thread. The events only
# force the order: should starting the service shut the handlers down (uvicorn's dictConfig, which
# holds logging's lock while it takes every handler's), the two threads wait on each other for good.
STARTS_WHILE_A_THREAD_LOGS = """
import logging, os, threading
from starlette.applications import Starlette
from servers.service import ToolServiceThread

inside_emit, shutting_down = threading.Event(), threading.Event()

class LikePrefectsApiHandler(logging.Handler):
    def emit(self, record):
        inside_emit.set()
        shutting_down.wait(2)
        logging.getLogger("api-log-worker")

class Flushed(logging.Handler):
    def emit(self, record):
        pass
    def flush(self):  # only ever called as the handlers are shut down, logging's lock held
        shutting_down.set()
        inside_emit.wait(2)

flow_log = logging.getLogger("flow-run")
flow_log.addHandler(LikePrefectsApiHandler())
flow_log.propagate = False
logging.getLogger("elsewhere").addHandler(Flushed())
logging_thread = threading.Thread(target=flow_log.warning, args=("a subflow starts",), daemon=True)
logging_thread.start()
inside_emit.wait(2)
serving = threading.Thread(target=lambda: ToolServiceThread(Starlette()).start().stop(), daemon=True)
serving.start()
serving.join(10)
logging_thread.join(10)
os._exit(1 if serving.is_alive() or logging_thread.is_alive() else 0)  # no exit handlers: locks may be stuck
"""


def test_the_service_starts_on_a_thread_while_another_thread_logs():
    """`floor run` starts its tool service as its first turns begin, while the flow logs to Prefect."""
    from tests.crashes import error_output, spawn

    process = spawn(["-c", STARTS_WHILE_A_THREAD_LOGS])
    assert process.wait(timeout=60) == 0, f"the threads deadlocked: {error_output(process)}"


def test_turns_asking_at_once_start_one_local_service(monkeypatch):
    """A cycle's first turns ask for the in-process service together: one starts, all use it."""
    import threading
    import time

    import servers.service
    from tasks import runtime

    started = []

    def start_in_process(settings, database_url):
        time.sleep(0.2)  # as long as a real start takes, about
        started.append(object())
        return started[-1]

    monkeypatch.setattr(servers.service, "start_in_process", start_in_process)
    monkeypatch.setattr(runtime, "_local_service", None)
    monkeypatch.setattr(runtime, "settings", lambda: None)
    monkeypatch.setattr(runtime, "database_url", lambda: "postgresql+psycopg://unused")
    together = threading.Barrier(4)
    got = []

    def turn():
        together.wait()
        got.append(runtime._local_tool_service())

    threads = [threading.Thread(target=turn) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(started) == 1 and got == started * 4
