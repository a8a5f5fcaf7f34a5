"""Strict tools through real MCP clients: declared arguments only, exact JSON types, safe errors.

In-memory sessions for every kind the launcher builds, a stdio server process fed raw JSON-RPC
lines, and the tool service over HTTP.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time

import anyio
import httpx
import pytest
from mcp.shared.memory import create_connected_server_and_client_session
from sqlalchemy.exc import IntegrityError

from floor.ledger.accounts import get_account
from floor.market.cache import PriceBook
from floor.market.simulated import SimulatedMarket
from floor.tool_access import SERVER_KINDS
from servers.accounts_server import build_accounts_server
from servers.binding import TraderBinding
from servers.launch import build_server
from servers.memory_server import build_memory_server
from servers.unreadable_messages import unreadable_answer
from tests.servers.test_accounts_server import account_state, stdio_params
from tests.servers.test_tool_service import INITIALIZE, MCP_HEADERS, session_calls, token_for

LEAKS = ("SQL", "INSERT", "UPDATE", "SELECT", "psycopg", "sqlalche", "Traceback", 'File "')
HUGE = "9" * 5000  # past Python's 4,300-digit limit on reading an int


def binding_for(engine, trader="Warren", **fields) -> TraderBinding:
    return TraderBinding(trader=trader, engine=engine, prices=PriceBook(engine, SimulatedMarket()), **fields)


def calls(server, *tool_calls):
    """Run tool calls in one in-memory session of ``server``; returns their results."""

    async def scenario():
        async with create_connected_server_and_client_session(server) as session:
            return [await session.call_tool(name, args) for name, args in tool_calls]

    return anyio.run(scenario)


def accounts_calls(engine, *tool_calls, **binding_fields):
    return calls(build_accounts_server(binding_for(engine, **binding_fields)), *tool_calls)


def floor_state(engine):
    """Cash, positions and transactions of every default trader."""
    return {trader: account_state(engine, trader) for trader in ("Warren", "George", "Ray", "Cathie")}


def account_strategy(engine, trader="Warren"):
    with engine.connect() as conn:
        return get_account(conn, trader).strategy


def refusal(result) -> str:
    assert result.isError
    text = result.content[0].text
    assert not any(leak in text for leak in LEAKS), text
    return text


def closed_objects(schema, where="inputSchema"):
    """Every object schema (one that lists properties) in ``schema``, with where it is."""
    if isinstance(schema, dict):
        if "properties" in schema:
            yield where, schema
        for key, value in schema.items():
            yield from closed_objects(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from closed_objects(value, f"{where}[{index}]")


def test_every_tool_of_every_kind_lists_additional_properties_false(floor, settings):
    settings = settings.model_copy(update={"brave_api_key": "test-key"})  # so web_search is listed too

    async def listed(kind):
        server = build_server(kind, binding_for(floor), settings)
        async with create_connected_server_and_client_session(server) as session:
            return (await session.list_tools()).tools

    names = set()
    for kind in SERVER_KINDS:
        for tool in anyio.run(listed, kind):
            names.add(tool.name)
            objects = list(closed_objects(tool.inputSchema))
            assert objects[0][0] == "inputSchema", tool.name  # the arguments object itself
            for where, schema in objects:
                assert schema.get("additionalProperties") is False, (tool.name, where)
    assert {"buy_shares", "create_entities", "push", "fetch", "web_search", "is_market_open"} <= names


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"quantity": True}, "quantity must be a whole number (JSON integer), not a boolean"),
        ({"quantity": "2"}, "quantity must be a whole number (JSON integer), not a string"),
        ({"quantity": 2.0}, "quantity must be a whole number (JSON integer), not a decimal number"),
        ({"quantity": [2]}, "quantity must be a whole number (JSON integer), not an array"),
        ({"quantity": 1, "price": 0.01}, "buy_shares does not take an argument named 'price'"),
        ({"quantity": 1, "name": "George"}, "buy_shares does not take an argument named 'name'"),
        ({"quantity": 1, "rationale": 7}, "rationale must be text (a JSON string), not an integer"),
        ({"quantity": 1, "rationale": None}, "rationale must be text (a JSON string), not null"),
    ],
)
def test_wrong_types_and_undeclared_arguments_are_refused_and_change_nothing(floor, arguments, reason):
    before = floor_state(floor)
    (result,) = accounts_calls(floor, ("buy_shares", {"symbol": "AAPL", "rationale": "r", **arguments}))
    assert refusal(result) == reason
    assert floor_state(floor) == before


def test_a_missing_argument_and_many_problems_are_each_named_shortly(floor):
    before = floor_state(floor)
    many = {f"extra_{i}": i for i in range(20)}
    missing, several, sold = accounts_calls(
        floor,
        ("buy_shares", {"symbol": "AAPL", "quantity": 1}),
        ("buy_shares", {"symbol": 1, "quantity": "1", **many}),
        ("sell_shares", {"symbol": "AAPL", "quantity": True, "rationale": "r", "trader": "George"}),
    )
    assert refusal(missing) == "buy_shares needs the argument 'rationale'"
    assert refusal(several).endswith("and 20 more") and len(several.content[0].text) < 300
    assert "sell_shares does not take an argument named 'trader'" in refusal(sold)
    assert floor_state(floor) == before


def test_a_valid_order_still_fills(floor):
    (bought,) = accounts_calls(floor, ("buy_shares", {"symbol": "AAPL", "quantity": 2, "rationale": "ok"}))
    assert not bought.isError, bought.content[0].text
    assert account_state(floor)[1] == {"AAPL": 2}


def test_a_4000_digit_quantity_is_refused_with_a_short_message(floor):
    before = floor_state(floor)
    quantity = int("9" * 4000)  # under the parse limit: it reaches the ledger, which refuses it
    bought, sold = accounts_calls(
        floor,
        ("buy_shares", {"symbol": "AAPL", "quantity": quantity, "rationale": "r"}),
        ("sell_shares", {"symbol": "AAPL", "quantity": -quantity, "rationale": "r"}),
    )
    assert "absurd" in refusal(bought) and len(bought.content[0].text) < 300
    assert "at least 1" in refusal(sold) and len(sold.content[0].text) < 300
    assert floor_state(floor) == before


@pytest.mark.parametrize(
    ("tool", "arguments", "where"),
    [
        ("buy_shares", {"symbol": "AAPL", "quantity": 1, "rationale": "cheap\x00"}, "rationale"),
        ("buy_shares", {"symbol": "AAPL\x00", "quantity": 1, "rationale": "r"}, "symbol"),
        ("sell_shares", {"symbol": "AAPL", "quantity": 1, "rationale": "\x1b[31mred"}, "rationale"),
        ("change_strategy", {"strategy": "Value\x00; DROP TABLE accounts"}, "strategy"),
        ("change_strategy", {"strategy": "carriage\rreturn"}, "strategy"),
    ],
)
def test_control_characters_in_text_are_refused_with_a_reason_before_the_database(
    floor, tool, arguments, where
):
    before = floor_state(floor)
    strategy_before = account_strategy(floor)
    (result,) = accounts_calls(floor, (tool, arguments))
    text = refusal(result)
    assert text.startswith(f"{where} contains a control character (U+00")
    assert "plain text" in text
    assert floor_state(floor) == before and account_strategy(floor) == strategy_before


def test_newlines_and_tabs_are_plain_text(floor):
    (changed,) = accounts_calls(floor, ("change_strategy", {"strategy": "Buy quality.\n\tHold it."}))
    assert not changed.isError, changed.content[0].text
    assert account_strategy(floor) == "Buy quality. Hold it."  # the floor's own whitespace rule


def test_nested_arguments_are_strict_too(floor):
    server = build_memory_server(binding_for(floor))
    entity = {"name": "NVDA", "entityType": "company", "observations": ["makes GPUs"]}
    renamed = {"name": "NVDA", "entity_type": "company"}
    extra, by_name, typed, control, made, graph = calls(
        server,
        ("create_entities", {"entities": [{**entity, "colour": "green"}]}),
        ("create_entities", {"entities": [renamed]}),
        ("create_entities", {"entities": [{**entity, "observations": [1]}]}),
        ("create_entities", {"entities": [{**entity, "observations": ["ok", "bad\x00"]}]}),
        ("create_entities", {"entities": json.dumps([entity])}),  # a JSON string is not a list
        ("read_graph", {}),
    )
    assert refusal(extra) == "entities[0] has no field named 'colour'"
    assert refusal(by_name) == (
        "entities[0] needs the field 'entityType'; entities[0] has no field named 'entity_type'"
    )
    assert refusal(typed) == "entities[0].observations[0] must be text (a JSON string), not an integer"
    assert refusal(control).startswith("entities[0].observations[1] contains a control character (U+0000)")
    assert refusal(made) == "entities must be a list (JSON array), not a string"
    assert json.loads(graph.content[0].text)["entities"] == []


def test_a_database_error_reaches_the_agent_without_its_sql(floor, caplog):
    """A turn bound to a cycle that is gone: Postgres refuses the write (a foreign key)."""
    before = floor_state(floor)
    (result,) = accounts_calls(
        floor, ("buy_shares", {"symbol": "AAPL", "quantity": 1, "rationale": "r"}), cycle_id=987654
    )
    text = refusal(result)
    assert "buy_shares failed because of a fault on the server's side" in text
    assert "987654" not in text
    assert floor_state(floor) == before
    logged = [r for r in caplog.records if r.name == "servers.strict_tools"]
    assert logged and isinstance(logged[0].exc_info[1], IntegrityError)  # the operators see it all


def test_an_unknown_tool_name_is_not_echoed_in_full(floor):
    (result,) = accounts_calls(floor, ("x" * 10_000, {}))
    assert refusal(result).startswith("there is no tool named 'xxx") and len(result.content[0].text) < 100


def raw_call(request_id: str, quantity: str) -> str:
    """A buy_shares call as one JSON-RPC line, its id and quantity written as given (any length)."""
    arguments = {"symbol": "AAPL", "quantity": "<quantity>", "rationale": "r"}
    params = {"name": "buy_shares", "arguments": arguments}
    line = json.dumps({"jsonrpc": "2.0", "id": "<id>", "method": "tools/call", "params": params})
    return line.replace('"<id>"', request_id).replace('"<quantity>"', quantity)


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        (raw_call("3", HUGE), (3, -32700)),
        (raw_call('"q"', "-" + HUGE), ("q", -32700)),
        ('{"jsonrpc":"2.0","id":5,"method":7}', (5, -32600)),
        (raw_call("4", "1"), None),  # readable: the SDK answers it
        (raw_call(HUGE, "1"), None),  # no id to answer
        ('{"jsonrpc":"2.0","method":"notifications/x","params":{"n":' + HUGE + "}}", None),
        ("not json", None),
    ],
)
def test_which_unreadable_messages_get_an_answer(line, answer):
    error = unreadable_answer(line)
    assert (error and (error.id, error.error.code)) == answer
    assert error is None or len(error.error.message) < 100


def read_lines(process: subprocess.Popen) -> queue.Queue:
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def answer_to(lines: queue.Queue, request_id, timeout: float) -> dict:
    """The message answering ``request_id``, skipping notifications; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no answer to request {request_id} within {timeout} s"
        try:
            message = json.loads(lines.get(timeout=remaining))
        except queue.Empty:
            continue
        if message.get("id") == request_id:
            return message


def test_a_stdio_server_answers_a_request_with_a_number_too_long_to_parse(floor):
    params = stdio_params("Warren")
    process = subprocess.Popen(
        [params.command, *params.args],
        env=params.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = read_lines(process)

        def send(line: str) -> None:
            process.stdin.write(line + "\n")
            process.stdin.flush()

        send(json.dumps(INITIALIZE))
        assert "result" in answer_to(lines, 1, timeout=60)  # the server's start, on a busy machine
        send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        send(raw_call("2", HUGE))
        refused = answer_to(lines, 2, timeout=5)
        assert refused["error"]["code"] == -32700
        assert "more than 4300 digits" in refused["error"]["message"]
        send(raw_call('"after"', "1"))
        assert answer_to(lines, "after", timeout=10)["result"]["isError"] is False  # still serving
    finally:
        process.stdin.close()
        process.wait(timeout=10)
    assert account_state(floor)[1] == {"AAPL": 1}


def test_the_tool_service_answers_a_number_too_long_to_parse_for_its_id(floor, tool_service):
    url = tool_service.endpoint("accounts")
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token_for(floor, 'Warren')}"}
    started = httpx.post(url, json=INITIALIZE, headers=headers, timeout=10)
    headers |= {"mcp-session-id": started.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert httpx.post(url, json=initialized, headers=headers, timeout=10).status_code == 202
    body = raw_call('"big"', HUGE)
    answered = httpx.post(url, content=body, headers=headers, timeout=10)
    assert answered.status_code == 400
    assert answered.json()["id"] == "big" and answered.json()["error"]["code"] == -32700

    no_token = {k: v for k, v in headers.items() if k != "Authorization"}
    assert httpx.post(url, content=body, headers=no_token, timeout=10).status_code == 401  # auth first
    assert account_state(floor)[1] == {}


def test_the_tool_service_serves_strict_tools(floor, tool_service):
    before = floor_state(floor)
    _, (typed, extra) = anyio.run(
        session_calls,
        tool_service,
        "accounts",
        token_for(floor, "Warren"),
        ("buy_shares", {"symbol": "AAPL", "quantity": "2", "rationale": "r"}),
        ("buy_shares", {"symbol": "AAPL", "quantity": 2, "rationale": "r", "price": 0.01}),
    )
    assert refusal(typed) == "quantity must be a whole number (JSON integer), not a string"
    assert refusal(extra) == "buy_shares does not take an argument named 'price'"
    assert floor_state(floor) == before
