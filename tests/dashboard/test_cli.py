"""``floor dashboard`` as a user runs it: a process serving the page on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(traded_floor, database_url):
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PREFECT_UI_URL": "http://prefect.example:4200/",
        "DASHBOARD_HOST": "",  # blank means unset: the default, 127.0.0.1
    }


def test_floor_dashboard_serves_the_floor_on_loopback(env):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "dashboard", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.strip() == f"Dashboard: http://127.0.0.1:{port}/ (Ctrl+C to stop)", process.stderr.read()
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/", timeout=30) as response:
            assert response.status == 200 and b"Trading Floor" in response.read()
        with urllib.request.urlopen(base + "/_dash-layout", timeout=30) as response:
            layout = json.dumps(json.load(response))
        for persona in ("Warren Patience", "George Bold", "Ray Systematic", "Cathie Crypto"):
            assert persona in layout
        assert "http://prefect.example:4200" in layout  # the Prefect UI link
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_floor_dashboard_says_why_it_cannot_listen(env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "deployments.cli", "dashboard", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert f"the dashboard cannot listen on 127.0.0.1:{port}" in done.stderr


def test_half_configured_basic_auth_is_refused(env):
    done = subprocess.run(
        [sys.executable, "-m", "deployments.cli", "dashboard", "--port", str(free_port())],
        env={**env, "DASHBOARD_USER": "ops"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "DASHBOARD_PASSWORD" in done.stderr
