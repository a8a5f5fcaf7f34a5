"""A ``floor`` command that started the embedded Postgres stops it, however it is stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

FLOOR = [sys.executable, "-m", "deployments.cli"]


def postgres_serving(data_dir: Path) -> list[psutil.Process]:
    """The Postgres processes running on ``data_dir``."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(data_dir) in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


def handles(data_dir: Path) -> list[int]:
    return json.loads((data_dir / ".handle_pids.json").read_text())


@pytest.fixture
def data_dir(tmp_path: Path):
    """A fresh embedded-Postgres data directory; any server a failed test leaves on it is stopped."""
    path = (tmp_path / "pgdata").resolve()
    yield path
    for process in postgres_serving(path):
        process.kill()


@pytest.fixture
def env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_DIR")}
    return {**env, "DATA_DIR": str(data_dir), "DASHBOARD_HOST": ""}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(env: dict[str, str]) -> subprocess.Popen:
    """`floor dashboard` on a free port, returned once it serves the page."""
    port = free_port()
    process = subprocess.Popen(
        [*FLOOR, "dashboard", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("Dashboard: "), process.stderr.read() if process.poll() is not None else line
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
        assert response.status == 200
    return process


def wait_until_gone(data_dir: Path, seconds: float = 10) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := postgres_serving(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_sigterm_stops_the_embedded_postgres_the_dashboard_started(env, data_dir):
    dashboard = start_dashboard(env)
    assert postgres_serving(data_dir), "the dashboard should have started the embedded Postgres"
    dashboard.send_signal(signal.SIGTERM)
    assert dashboard.wait(timeout=30) == 0  # a server stopped as asked has done its job
    assert "Traceback" not in dashboard.stderr.read()
    assert wait_until_gone(data_dir) == []
    assert handles(data_dir) == []


def test_sigint_stops_it_too(env, data_dir):
    dashboard = start_dashboard(env)
    dashboard.send_signal(signal.SIGINT)
    assert dashboard.wait(timeout=30) == 0
    assert wait_until_gone(data_dir) == []


def test_a_handle_left_by_a_killed_process_is_cleaned_on_the_next_start(env, data_dir):
    dashboard = start_dashboard(env)
    dashboard.kill()  # SIGKILL: no cleanup at all
    dashboard.wait(timeout=30)
    dashboard.stdout.close()
    dashboard.stderr.close()
    assert postgres_serving(data_dir), "nothing stops the server of a process killed outright"
    assert handles(data_dir) == [dashboard.pid]

    # The next command joins the running server, forgets the dead handle, and so stops it at exit.
    report = subprocess.run(
        [*FLOOR, "report", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert report.returncode == 0, report.stderr
    assert wait_until_gone(data_dir) == []
    assert handles(data_dir) == []
