"""Deployments run wherever the package is installed: two process workers, started from two other
directories, on a Prefect server whose own data is in Postgres, complete `trading-cycle` runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deployments.serve import prefect_server

ROOT = Path(__file__).parents[2]
SERVER_DB = "floor_prefect_workers_test"
APP_DB = "floor_app_workers_test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def machine_postgres() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not machine_postgres() and not os.environ.get("CI"), reason="needs Postgres at 5432")
def test_two_workers_in_other_directories_complete_cycles(tmp_path):
    fresh_database(SERVER_DB)
    fresh_database(APP_DB)
    port = free_port()
    with prefect_server(
        port, database_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{SERVER_DB}"
    ) as api:
        env = {
            **os.environ,
            "PREFECT_API_URL": api,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{APP_DB}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
        }
        env.pop("TOOLS_URL", None)
        prefect = [sys.executable, "-m", "prefect"]

        def run(*args, cwd=ROOT, timeout=300):
            done = subprocess.run(
                [*prefect, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
            )
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            return done.stdout

        run("work-pool", "create", "floor-pool", "--type", "process", "--overwrite")
        run("--no-prompt", "deploy", "--all")
        workers, logs = [], []
        for name in ("east", "west"):
            where = tmp_path / name
            where.mkdir()
            log = (where / "worker.log").open("w")
            logs.append(where / "worker.log")
            workers.append(
                subprocess.Popen(
                    [*prefect, "worker", "start", "--pool", "floor-pool", "--name", f"worker-{name}"],
                    cwd=where,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        try:
            ids = []
            for _ in range(3):
                out = run(
                    "deployment", "run", "trading-cycle/trading-cycle", "-p", "force=true", cwd=tmp_path
                )
                ids.append(next(line.split()[-1] for line in out.splitlines() if "UUID" in line))
            states = wait_for(api, ids, timeout=420)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
        assert states == {i: "COMPLETED" for i in ids}, states
        seen = "\n".join(p.read_text() for p in logs)
        assert all(i in seen for i in ids)  # each run was picked up by one of our two workers


def wait_for(api: str, ids: list[str], timeout: float) -> dict[str, str]:
    """Each flow run's final state type, read from the Prefect API (or the last seen at timeout)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        states = {i: httpx.get(f"{api}/flow_runs/{i}", timeout=10).json()["state"]["type"] for i in ids}
        if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states.values()):
            return states
        if time.monotonic() > deadline:
            return states
        time.sleep(2)
