"""Every entry point loads, and prefect.yaml deploys to a real Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
import yaml

ROOT = Path(__file__).parents[2]


def test_every_prefect_yaml_entrypoint_is_a_flow():
    from prefect.flows import load_flow_from_entrypoint

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for deployment in spec["deployments"]:
        assert ":" not in deployment["entrypoint"]  # a module path: no checkout path needed
        loaded = load_flow_from_entrypoint(deployment["entrypoint"])
        assert loaded.name in ("trading-cycle", "reset-floor", "backtest")


def test_console_script_help_lists_every_verb():
    done = subprocess.run([sys.executable, "-m", "deployments.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for verb in ("reset", "run", "backtest", "backtests", "report", "logs", "mcp", "tools", "up"):
        assert verb in done.stdout


def test_market_hours_cron():
    from deployments.schedule import market_hours_cron

    assert market_hours_cron(60) == "30 9-15 * * 1-5"
    assert market_hours_cron(15) == "*/15 9-15 * * 1-5"
    assert market_hours_cron(120) == "30 9-15/2 * * 1-5"


@pytest.mark.slow
def test_prefect_deploy_all_creates_the_cron_deployment(prefect_api, tmp_path):
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PWD": str(ROOT)}
    prefect = [sys.executable, "-m", "prefect"]
    pool = subprocess.run(
        [*prefect, "work-pool", "create", "floor-pool", "--type", "process", "--overwrite"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = subprocess.run(
        [*prefect, "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]

    async def read():
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            return await client.read_deployment_by_name("trading-cycle/trading-cycle")

    deployment = anyio.run(read)
    assert deployment.work_pool_name == "floor-pool"
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "30 9-15 * * 1-5"
    assert schedule.schedule.timezone == "America/New_York"
    assert deployment.entrypoint == "flows.trading_cycle.trading_cycle"
    assert not deployment.pull_steps  # runs wherever a worker with the package installed starts
