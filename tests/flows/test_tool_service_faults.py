"""A tool service that dies mid-cycle: the cycle finishes, the affected turns say why, no trade is
duplicated, and the next cycle runs (on tools served in its own process)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from floor.schema import accounts, transactions, turns
from servers.service import is_serving
from tests.fakes.openai_server import OpenAIServer, final_answer, tool_call

KEY = "sk-faults-test-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def tool_service_process(database_url):
    """``floor tools`` in a process of its own, as `floor up` or an operator would run it."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "tools", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not is_serving(url, timeout=0.5):
        assert process.poll() is None and time.monotonic() < deadline, "floor tools did not start"
        time.sleep(0.1)
    yield url, process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.slow
def test_killing_the_service_mid_cycle_fails_those_turns_with_a_reason_and_loses_nothing(
    tool_service_process, runtime, floor, tmp_path, monkeypatch
):
    from flows.trading_cycle import trading_cycle

    url, process = tool_service_process
    traders = (Path(__file__).parents[2] / "floor" / "traders.toml").read_text()
    traders = traders.replace('style = "value"\n', 'style = "value"\nmodel = "openai/warren-model"\n', 1)
    (tmp_path / "traders.toml").write_text(traders)
    for name, value in {
        "FLOOR_TRADERS_FILE": str(tmp_path / "traders.toml"),
        "FLOOR_MODEL": "offline",
        "OPENAI_API_KEY": KEY,
        "TOOLS_URL": url,
        "MAX_STEP_ERRORS": "2",
        "TOOL_CALL_TIMEOUT_SECONDS": "5",  # the call in flight when the service died waits this long
        "MODEL_RETRY_WAIT_SECONDS": "0.01",
    }.items():
        monkeypatch.setenv(name, value)

    def kill_then_buy(request):
        process.kill()  # the service dies between two of Warren's steps
        process.wait(timeout=10)
        return tool_call("buy_shares", {"symbol": "KO", "quantity": 2, "rationale": "after the crash"})

    with OpenAIServer() as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        runtime.settings.cache_clear()
        llm.script(
            tool_call("buy_shares", {"symbol": "AAPL", "quantity": 3, "rationale": "before the crash"}),
            kill_then_buy,
            tool_call("get_balance", {}),  # the second failed step in a row ends the turn
            model="warren-model",
        )
        first = asyncio.run(trading_cycle(force=True, traders=["Warren"]))
        assert first["status"] == "completed"
        assert first["turns"] == {"Warren": "failed"}
        with floor.connect() as conn:
            (error,) = conn.execute(select(turns.c.error)).scalars().all()
        assert "failed steps in a row" in error and "connection to the tool service" in error
        assert warrens_fills(floor) == [("AAPL", 3)]  # the one fill before the crash, once

        # The service is gone: the next cycle serves its tools in its own process and trades.
        llm.script(
            tool_call("buy_shares", {"symbol": "KO", "quantity": 2, "rationale": "next cycle"}),
            final_answer("Bought KO."),
            model="warren-model",
        )
        second = asyncio.run(trading_cycle(force=True, traders=["Warren", "George"]))
    assert second["turns"] == {"Warren": "succeeded", "George": "succeeded"}
    assert warrens_fills(floor) == [("AAPL", 3), ("KO", 2)]  # nothing lost, nothing twice


def warrens_fills(engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(transactions.c.symbol, transactions.c.quantity)
            .join(accounts, accounts.c.id == transactions.c.account_id)
            .where(accounts.c.name == "Warren")
            .order_by(transactions.c.id)
        ).all()
    return [tuple(r) for r in rows]
