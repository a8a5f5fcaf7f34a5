"""Secret canaries in every key: no secret the floor holds reaches any output, log or table.

Every secret setting gets a unique canary value. Then `floor run --force` runs a Prefect cycle
where they are most likely to surface: four LLM traders on four providers (the fake provider
answers their last call with a 401 that echoes the request it got, Authorization header and all),
price history from a Polygon server that fails, a web search Brave refuses; and the push tool fails
twice (a receiver answering 500, a target apprise cannot use). Then every output is searched: the
command's stdout and stderr, log records, every row of every table, the Prefect run's logs, states
and artifacts. The test prints its figure (pytest -s shows it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from mcp.shared.memory import create_connected_server_and_client_session
from sqlalchemy import make_url, select, text

from floor.market.calendar import last_closed_session
from floor.schema import cycles, metadata, turns
from floor.settings import Settings
from servers.launch import build_server
from tests.fakes.openai_server import OpenAIServer, failure, final_answer, tool_call
from tests.fakes.polygon_server import Fault, PolygonServer
from tests.fakes.web_server import WebServer
from tests.flows.test_polygon_cycle import history
from tests.servers.test_strict_tools import binding_for

pytestmark = pytest.mark.slow  # a full Prefect cycle of four LLM traders

PROVIDERS = {  # trader: model, each on a provider of its own, all on the fake
    "Warren": "openai/gpt-4o-mini",
    "George": "deepseek/deepseek-chat",
    "Ray": "openrouter/openai/gpt-4.1-mini",
    "Cathie": "xai/grok-4.20-non-reasoning",
}


def canary(name: str) -> str:
    return f"canary{name.replace('_', '')}{secrets.token_hex(8)}".lower()


def pushover_key(name: str) -> str:
    """A canary in the shape apprise accepts for a Pushover key: 30 letters and digits."""
    return (name.replace("_", "") + secrets.token_hex(15))[:30].lower()


class EchoingProvider:
    """A provider whose model researches, looks up a price history, then fails echoing the request."""

    def __init__(self) -> None:
        self.echoed: list[str] = []

    def __call__(self, request) -> dict:
        seen = request.prompt_text()
        if "web_search" in request.tool_names:  # the researcher
            if "[echo:search]" not in seen:
                return tool_call("web_search", {"query": "AAPL outlook"}, content="[echo:search]")
            return final_answer("The search did not work.")
        if "[echo:history]" not in seen:
            return tool_call("get_price_history", {"symbol": "AAPL", "days": 30}, content="[echo:history]")
        if "[echo:research]" not in seen:
            return tool_call("researcher", {"task": "Search the web on AAPL."}, content="[echo:research]")
        echo = json.dumps({"headers": request.headers, "body": request.body})[:4000]
        self.echoed.append(echo)
        return failure(401, f"Incorrect API key provided. Your request was: {echo}")


@pytest.fixture
def canaries(monkeypatch, tmp_path, database_url):
    """Every secret setting set to a canary; returns {setting: canary}."""
    names = [
        "openai_api_key",
        "deepseek_api_key",
        "google_api_key",
        "grok_api_key",
        "xai_api_key",
        "openrouter_api_key",
        "polygon_api_key",
        "brave_api_key",
        "dashboard_password",
    ]
    values = {name: canary(name) for name in names}
    values |= {"pushover_user": pushover_key("pushoveruser"), "pushover_token": pushover_key("pushovertoken")}
    values |= {"apprise_user": canary("apprise_user"), "apprise_password": canary("apprise_password")}
    values["apprise_unusable"] = canary("apprise_unusable")  # in a URL apprise cannot use
    values["database_password"] = canary("database_password")
    url = make_url(database_url).set(password=values["database_password"])  # embedded: trust, not checked
    monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
    for name in (*names, "pushover_user", "pushover_token"):
        monkeypatch.setenv(name.upper(), values[name])
    traders = (Path(__file__).parents[2] / "floor" / "traders.toml").read_text()
    for trader, model in PROVIDERS.items():
        start = traders.index(f'name = "{trader}"')
        line = traders.index("many_models", start)
        end = traders.index("\n", line)
        traders = traders[:line] + f'model = "{model}"' + traders[end:]
    (tmp_path / "traders.toml").write_text(traders)
    monkeypatch.setenv("FLOOR_TRADERS_FILE", str(tmp_path / "traders.toml"))
    monkeypatch.setenv("MODEL_RETRIES", "0")
    monkeypatch.setenv("POLYGON_RETRIES", "0")
    monkeypatch.setenv("FETCH_ALLOW_PRIVATE_ADDRESSES", "true")
    return values


def push_failures(settings: Settings, engine, web: WebServer, values: dict) -> list[str]:
    """The push tool's answers with a receiver answering 500 and with a target apprise cannot use.

    Pushover is left out here: a push to it would leave this machine.
    """
    web.receiver("/notify", status=500)
    target = f"json://{values['apprise_user']}:{values['apprise_password']}@127.0.0.1:{web.port}/notify"
    refused = settings.model_copy(
        update={"apprise_urls": target, "pushover_user": None, "pushover_token": None}
    )
    unusable = settings.model_copy(
        update={
            "apprise_urls": f"nonsense://{values['apprise_unusable']}@host",
            "pushover_user": None,
            "pushover_token": None,
        }
    )

    async def push(config: Settings) -> str:
        server = build_server("push", binding_for(engine), config)
        async with create_connected_server_and_client_session(server) as session:
            result = await session.call_tool("push", {"message": "Bought 3 AAPL."})
        return " ".join(c.text for c in result.content)

    answers = [anyio.run(push, refused), anyio.run(push, unusable)]
    assert "failed" in answers[0] and "misconfigured" in answers[1], answers
    assert web.requests_to("/notify"), "the receiver was never asked"
    return answers


def table_rows(engine) -> list[str]:
    """Every row of every table of the floor, as Postgres writes a row as text."""
    with engine.connect() as conn:
        return [
            row
            for table in metadata.sorted_tables
            for row in conn.execute(text(f"SELECT t::text FROM {table.name} t")).scalars()
        ]


async def prefect_texts() -> list[str]:
    """Every log line, flow and task run state message and artifact the Prefect API holds."""
    from prefect.client.orchestration import get_client

    found: list[str] = []
    async with get_client() as client:
        for read in (client.read_logs, client.read_artifacts, client.read_flow_runs, client.read_task_runs):
            offset = 0
            while batch := await read(limit=200, offset=offset):
                found += [item.model_dump_json() for item in batch]
                offset += len(batch)
    return found


def test_no_secret_reaches_any_output_log_or_table(canaries, floor, prefect_api, caplog):
    caplog.set_level(logging.INFO)
    provider = EchoingProvider()
    with (
        OpenAIServer(default=provider) as llm,
        PolygonServer(api_key=canaries["polygon_api_key"]) as polygon,
        WebServer() as web,
    ):
        for day, closes in history(last_closed_session(datetime.now(UTC))).items():
            polygon.set_closes(day, closes)
        polygon.fail_next(*[Fault(500, kind="aggs")] * 8)
        web.brave(api_key="not-the-canary", results=[])
        target = f"json://{canaries['apprise_user']}:{canaries['apprise_password']}@127.0.0.1:{web.port}/x"
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_api,
            "POLYGON_BASE_URL": polygon.base_url,
            "BRAVE_BASE_URL": web.base_url,
            "APPRISE_URLS": target,
        }
        env |= {f"{p}_BASE_URL": llm.base_url for p in ("OPENAI", "DEEPSEEK", "OPENROUTER", "XAI")}
        run = subprocess.run(
            [sys.executable, "-m", "deployments.cli", "run", "--force"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        answers = push_failures(Settings(_env_file=None), floor, web, canaries)
        sent = [r.headers.get("Authorization", "") for r in llm.requests]

    with floor.connect() as conn:
        cycle = conn.execute(select(cycles.c.status)).scalar_one()
        played = conn.execute(select(turns.c.status, turns.c.error)).all()
    assert (cycle, [p.status for p in played]) == ("completed", ["failed"] * len(PROVIDERS)), run.stderr[
        -3000:
    ]
    assert any('"Bearer [redacted]"' in p.error for p in played)  # the echo came back, masked
    assert len(provider.echoed) == len(PROVIDERS)
    assert polygon.count("aggs") and web.requests_to("/res/v1/web/search")
    assert {canaries[f"{p}_api_key"] for p in ("openai", "deepseek", "openrouter", "xai")} <= {
        header.removeprefix("Bearer ") for header in sent
    }, "every provider's key was sent, and echoed back"

    outputs = {
        "outputs of `floor run` (stdout, stderr)": [run.stdout, run.stderr],
        "log records": [f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records],
        "table rows": table_rows(floor),
        "Prefect logs, runs and artifacts": asyncio.run(prefect_texts()),
        "push answers": answers,
    }
    found = [
        (where, name)
        for where, texts in outputs.items()
        for name, value in canaries.items()
        if any(value in t for t in texts)
    ]
    assert not found, found
    counts = ", ".join(f"{len(texts)} {where}" for where, texts in outputs.items())
    print(
        f"\nsecret canaries: {len(canaries)} secrets, {len(provider.echoed)} provider errors echoing the "
        f"request, a failing Polygon, a refused search, 2 failed pushes; searched {counts}: 0 occurrences"
    )
