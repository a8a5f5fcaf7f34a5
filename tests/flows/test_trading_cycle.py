"""The trading cycle as a real Prefect flow: offline traders acting through stdio MCP servers."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from floor.market.calendar import market_status
from floor.market.simulated import SimulatedMarket
from floor.portfolio.reports import account_reports
from floor.schema import cycles, snapshots, transactions, turns
from tests.ledger_checks import assert_books_balance

pytestmark = pytest.mark.slow  # full Prefect cycles


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def run_cycle(**kwargs):
    from flows.trading_cycle import trading_cycle

    return asyncio.run(trading_cycle(**kwargs))


def test_forced_cycle_trades_values_and_checks(runtime, floor):
    result = run_cycle(force=True)
    assert result["status"] == "completed"
    assert result["turns"] == {name: "succeeded" for name in ("Warren", "George", "Ray", "Cathie")}
    assert count(floor, transactions) > 0
    assert count(floor, snapshots) == 4
    with floor.connect() as conn:
        cycle = conn.execute(select(cycles)).one()
    assert cycle.status == "completed" and cycle.flow_run_id
    for report in account_reports(floor, SimulatedMarket.name):
        assert_books_balance(report)


def test_turn_kinds_alternate_across_cycles(runtime, floor):
    run_cycle(force=True, traders=["Ray"])
    run_cycle(force=True, traders=["Ray"])
    with floor.connect() as conn:
        kinds = conn.execute(select(turns.c.kind).order_by(turns.c.id)).scalars().all()
    assert kinds == ["trade", "rebalance"]


def test_unforced_cycle_follows_the_market_calendar(runtime, floor):
    status = market_status(datetime.now(UTC))
    result = run_cycle(traders=["Warren"])
    if status.open:
        assert result["status"] == "completed"
    else:
        assert result["status"] == "skipped" and "market closed" in result["reason"]
        assert count(floor, cycles) == 0 and count(floor, transactions) == 0


class Failing500(http.server.BaseHTTPRequestHandler):
    """An LLM API that fails every request: the outside world going wrong."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": {"message": "upstream exploded", "type": "server_error"}}')

    def log_message(self, *args):
        pass


@pytest.fixture
def broken_llm(tmp_path: Path, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing500)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    traders = (Path(__file__).parents[2] / "floor" / "traders.toml").read_text()
    traders += '\n[[trader]]\nname = "Broken"\nlastname = "Provider"\nstyle = "value"\n'
    traders += 'model = "openai/gpt-4o-mini"\nstrategy = "Buy anything."\n'
    (tmp_path / "traders.toml").write_text(traders)
    monkeypatch.setenv("FLOOR_TRADERS_FILE", str(tmp_path / "traders.toml"))
    monkeypatch.setenv("FLOOR_MODEL", "offline")  # everyone else stays offline
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    yield
    server.shutdown()


def test_one_trader_failing_leaves_the_others_trading(broken_llm, runtime, floor):
    result = run_cycle(force=True, traders=["Broken", "Warren"])
    assert result["status"] == "completed"
    assert result["turns"] == {"Broken": "failed", "Warren": "succeeded"}
    assert result["failed"] == ["Broken"]
    with floor.connect() as conn:
        error = conn.execute(select(turns.c.error).where(turns.c.status == "failed")).scalar_one()
    assert "sk-test-not-a-real-key" not in error


def test_floor_cli_runs_reports_and_balances(prefect_api, floor):
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    floor_cmd = [sys.executable, "-m", "deployments.cli"]
    for _ in range(2):
        done = subprocess.run(
            [*floor_cmd, "run", "--force"], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "completed" in done.stdout
    report = subprocess.run(
        [*floor_cmd, "report", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert report.returncode == 0, report.stderr[-2000:]
    accounts = json.loads(report.stdout)
    assert [a["name"] for a in accounts] == ["Warren", "George", "Ray", "Cathie"]
    assert any(a["transactions"] for a in accounts)
    for account in accounts:
        assert {
            "name",
            "lastname",
            "model",
            "strategy",
            "cash",
            "holdings",
            "portfolio_value",
            "profit_loss",
        } <= set(account)
        assert_books_balance(account)
    logs = subprocess.run(
        [*floor_cmd, "logs", "warren", "--json", "--last", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert logs.returncode == 0 and len(json.loads(logs.stdout)) == 5
    unknown = subprocess.run(
        [*floor_cmd, "report", "Nobody"], env=env, capture_output=True, text=True, timeout=120
    )
    assert unknown.returncode == 2 and "no trader named 'Nobody'" in unknown.stderr


def test_cycle_loaded_from_its_entrypoint_runs(runtime, floor):
    """Workers and `floor up` load the flow from prefect.yaml's entrypoint, outside its package."""
    import yaml
    from prefect.flows import load_flow_from_entrypoint

    root = Path(__file__).parents[2]
    spec = yaml.safe_load((root / "prefect.yaml").read_text())
    entrypoint = next(d["entrypoint"] for d in spec["deployments"] if d["name"] == "trading-cycle")
    loaded = load_flow_from_entrypoint(entrypoint)  # a module path, as a worker anywhere loads it
    result = asyncio.run(loaded(force=True, traders=["George"]))
    assert result["turns"] == {"George": "succeeded"}


def test_a_process_settles_once_with_what_its_cycles_import_frozen():
    # In a process of its own: freezing is for the life of the process.
    script = (
        "import gc, sys\n"
        "from tasks import runtime\n"
        "runtime.settle()\n"
        "frozen = gc.get_freeze_count()\n"
        "later = [[] for _ in range(1000)]\n"  # made after: a second freeze would take them too
        "runtime.settle()\n"
        "loaded = [name in sys.modules for name in ('great_expectations', 'smolagents')]\n"
        "print(frozen, gc.get_freeze_count(), *loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    first, second, gx, smolagents = done.stdout.split()
    assert int(first) > 100_000 and second == first  # once: the second call freezes nothing more
    assert gx == smolagents == "True"
