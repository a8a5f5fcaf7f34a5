"""LLM traders through the whole floor: the `floor` CLI and the Prefect cycle, with a scripted
OpenAI-compatible server on loopback standing in for the provider."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from floor.schema import activity_logs, cycles, transactions, turns
from tests.fakes.openai_server import OpenAIServer, failure, final_answer, tool_call

pytestmark = pytest.mark.slow  # full Prefect cycles

KEY = "sk-floorcli-9f8e7d6c5b4a-DISTINCTIVE"
RATIONALE = "Apple sits below its 60-day average; a patient buy."


def scripted_buy(llm: OpenAIServer, model: str = "gpt-4o-mini", *, hiccup: bool = False) -> None:
    llm.script(
        tool_call("get_balance", {}, content="First my cash.", usage=(1200, 25)),
        tool_call("lookup_share_price", {"symbol": "AAPL"}, usage=(1400, 25)),
        tool_call("buy_shares", {"symbol": "AAPL", "quantity": 5, "rationale": RATIONALE}, usage=(1600, 40)),
        *([failure(429, "rate limited")] if hiccup else []),
        final_answer("Bought 5 AAPL at a discount; the rest stays in cash.", usage=(1800, 30)),
        model=model,
    )


def test_floor_run_with_an_llm_trader_through_the_cli(prefect_api, floor):
    with OpenAIServer() as llm:
        scripted_buy(llm)
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_api,
            "FLOOR_MODEL": "openai/gpt-4o-mini",
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": KEY,
            "MODEL_RETRY_WAIT_SECONDS": "0.01",
        }

        def floor_cli(*args: str) -> subprocess.CompletedProcess:
            done = subprocess.run(
                [sys.executable, "-m", "deployments.cli", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            assert KEY not in done.stdout and KEY not in done.stderr
            return done

        run = floor_cli("run", "--force", "--trader", "Warren")
        assert "Warren succeeded" in run.stdout
        assert len(llm.requests) == 4
        report = json.loads(floor_cli("report", "Warren", "--json").stdout)[0]
        logs = json.loads(floor_cli("logs", "Warren", "--json").stdout)
        text_report = floor_cli("report", "Warren").stdout

    assert report["model"] == "openai/gpt-4o-mini"
    [trade] = report["transactions"]
    assert (trade["symbol"], trade["side"], trade["quantity"], trade["rationale"]) == (
        "AAPL",
        "buy",
        5,
        RATIONALE,
    )
    assert report["usage"]["input_tokens"] == 6000 and report["usage"]["output_tokens"] == 120
    assert report["usage"]["cost"] == pytest.approx(6000 * 0.15e-6 + 120 * 0.6e-6)
    [turn] = report["turns"]
    assert turn["status"] == "succeeded" and turn["model"] == "openai/gpt-4o-mini"
    assert "models: 1 turns, 6,000 in / 120 out tokens, $0.0010" in text_report
    messages = [entry["message"] for entry in logs]
    assert sum("[action]" in m for m in messages) == 4
    assert any("[tool call] buy_shares(" in m for m in messages)
    assert any("[observation]" in m for m in messages)
    assert {entry["type"] for entry in logs} >= {"trace", "generation", "function", "agent", "response"}
    with floor.connect() as conn:
        rows = [str(v) for row in conn.execute(select(activity_logs.c.message)) for v in row]
        rows += [str(v) for row in conn.execute(select(turns.c.error, turns.c.appraisal)) for v in row]
        rows += [str(v) for row in conn.execute(select(cycles.c.note)) for v in row]
        rows += [str(v) for row in conn.execute(select(transactions.c.rationale)) for v in row]
    assert not any(KEY in r for r in rows)


@pytest.fixture
def two_providers(tmp_path: Path, monkeypatch):
    """Warren on a working model, Broken on one the provider keeps refusing, George offline."""
    with OpenAIServer() as llm:
        traders = (Path(__file__).parents[2] / "floor" / "traders.toml").read_text()
        traders = traders.replace('style = "value"\n', 'style = "value"\nmodel = "openai/gpt-4o-mini"\n', 1)
        traders += '\n[[trader]]\nname = "Broken"\nlastname = "Provider"\nstyle = "value"\n'
        traders += 'model = "openai/overloaded-model"\nstrategy = "Buy anything."\n'
        (tmp_path / "traders.toml").write_text(traders)
        monkeypatch.setenv("FLOOR_TRADERS_FILE", str(tmp_path / "traders.toml"))
        monkeypatch.setenv("FLOOR_MODEL", "offline")
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        monkeypatch.setenv("MODEL_RETRIES", "2")
        monkeypatch.setenv("MODEL_RETRY_WAIT_SECONDS", "0.01")
        yield llm


@pytest.mark.parametrize("status", [429, 500])
def test_a_refusing_provider_fails_one_trader_while_the_others_trade(two_providers, runtime, floor, status):
    from flows.trading_cycle import trading_cycle

    llm = two_providers
    scripted_buy(llm, hiccup=True)  # Warren's provider answers 429 once, then goes on
    llm.script(*[failure(status, f"no capacity for {KEY}")] * 10, model="overloaded-model")
    result = asyncio.run(trading_cycle(force=True, traders=["Broken", "Warren", "George"]))
    assert result["status"] == "completed"
    assert result["turns"] == {"Broken": "failed", "Warren": "succeeded", "George": "succeeded"}
    assert len(llm.requests_for("overloaded-model")) == 3  # one call and two retries
    with floor.connect() as conn:
        error = conn.execute(select(turns.c.error).where(turns.c.status == "failed")).scalar_one()
        warren = conn.execute(
            select(transactions.c.symbol, transactions.c.quantity, transactions.c.rationale)
            .join(turns, turns.c.account_id == transactions.c.account_id)
            .where(turns.c.model == "openai/gpt-4o-mini")
        ).all()
    assert f"({status})" in error and "after 3 attempts" in error and KEY not in error
    assert warren == [("AAPL", 5, RATIONALE)]  # bought once, though a call was retried
    assert result["cost"] > 0
    rows = {row["trader"]: row for row in asyncio.run(leaderboard())}
    assert rows["Warren"]["cost_usd"] == pytest.approx(6000 * 0.15e-6 + 120 * 0.6e-6)
    assert rows["Warren"]["tokens"] == 6120 and rows["George"]["cost_usd"] == 0
    assert rows["Broken"]["turn"] == "failed" and f"({status})" in rows["Broken"]["note"]
    assert KEY not in json.dumps(rows)


async def leaderboard() -> list[dict]:
    """The newest leaderboard artifact's rows, as the Prefect UI shows them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async with get_client() as client:
        [artifact] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["leaderboard"])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data


def test_many_models_with_one_key_runs_that_trader_and_skips_the_rest(runtime, floor, monkeypatch):
    from flows.trading_cycle import trading_cycle

    with OpenAIServer() as llm:
        scripted_buy(llm, model="gpt-4.1-mini")
        monkeypatch.setenv("USE_MANY_MODELS", "true")
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        result = asyncio.run(trading_cycle(force=True))
    assert result["status"] == "completed"
    assert result["turns"] == {
        "Warren": "succeeded",
        "George": "skipped",
        "Ray": "skipped",
        "Cathie": "skipped",
    }
    with floor.connect() as conn:
        reasons = dict(
            conn.execute(select(turns.c.model, turns.c.error).where(turns.c.status == "skipped")).all()
        )
        bought = conn.execute(select(transactions.c.symbol)).scalars().all()
    assert reasons == {
        "deepseek/deepseek-chat": "deepseek/deepseek-chat needs DEEPSEEK_API_KEY, which is not set",
        "gemini/gemini-2.5-flash": "gemini/gemini-2.5-flash needs GOOGLE_API_KEY, which is not set",
        "xai/grok-4.20-non-reasoning": "xai/grok-4.20-non-reasoning needs XAI_API_KEY or GROK_API_KEY, "
        "which is not set",
    }
    assert bought == ["AAPL"] and {r.model for r in llm.requests} == {"gpt-4.1-mini"}
