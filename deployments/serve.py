"""``floor up``: run the floor on this machine on its schedule until stopped.

Uses the Prefect API named by ``PREFECT_API_URL``; with none, starts a local Prefect server
(its UI at http://127.0.0.1:4200) for as long as the floor is up. The tool service runs on
TOOLS_HOST:TOOLS_PORT (unless TOOLS_URL names one that answers) and every flow run's turns connect
to it; the dashboard is served alongside, on DASHBOARD_HOST:DASHBOARD_PORT (http://127.0.0.1:8050).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request

PREFECT_PORT = int(os.environ.get("FLOOR_PREFECT_PORT", "4200"))


@contextlib.contextmanager
def prefect_server(
    port: int = PREFECT_PORT,
    *,
    database_url: str | None = None,
    env: dict | None = None,
    detached: bool = False,
):
    """Start ``prefect server start`` on 127.0.0.1:``port``; yield its API URL; stop it after.

    ``database_url`` (``postgresql+asyncpg://…``) puts the server's own data in Postgres instead
    of its default SQLite file: what a floor past one machine, and a fair benchmark, runs on.
    ``detached``: quiet, and in a session of its own, so a Ctrl+C at the terminal reaches only the
    command that started it, which stops it when it is done (``floor backtest`` stops cleanly).
    """
    url = f"http://127.0.0.1:{port}/api"
    server_env = {**os.environ, **(env or {}), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    if database_url:
        server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if detached else {}
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        start_new_session=detached,
        **quiet,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the local Prefect server did not start; see its output above")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=20)
        if server.poll() is None:
            server.kill()


@contextlib.contextmanager
def prefect_api():
    """Yield the URL of a Prefect API: the configured one, or a local server started here."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        yield configured
        return
    with prefect_server() as url:
        os.environ["PREFECT_API_URL"] = url
        print(f"Prefect UI: {url.removesuffix('/api')}", flush=True)
        yield url


def serve_floor(*, run_now: bool = False) -> int:
    """Serve the trading-cycle deployment on its cron schedule; returns when interrupted."""
    import asyncio

    from deployments.schedule import TIMEZONE, market_hours_cron
    from floor.database import connect
    from floor.ledger.accounts import ensure_accounts
    from floor.settings import Settings
    from floor.traders import load_traders

    settings = Settings()
    engine = connect(settings)  # embedded Postgres stays up while we serve; runs inherit its URL
    ensure_accounts(engine, load_traders(settings))
    cron = market_hours_cron(settings.run_every_n_minutes)
    with prefect_api():
        # Prefect is imported only now, so it sees the API URL prefect_api() exported.
        from prefect.schedules import Cron

        from flows.trading_cycle import trading_cycle

        tools = _start_tool_service(settings, engine)
        dashboard = _start_dashboard(settings)  # links to flow runs in the UI of the API above
        try:
            if run_now:
                asyncio.run(trading_cycle(force=True))
            print(f"Serving trading-cycle on '{cron}' ({TIMEZONE}); Ctrl+C to stop.", flush=True)
            trading_cycle.serve(name="trading-cycle", schedule=Cron(cron, timezone=TIMEZONE))
        finally:
            dashboard.stop()
            if tools is not None:
                tools.stop()
    return 0


def _start_tool_service(settings, engine):
    """The tool service on TOOLS_HOST:TOOLS_PORT in a thread, unless TOOLS_URL names a live one.

    Flow runs are child processes: they find the service through the exported TOOLS_URL.
    """
    from floor.market.factory import build_market
    from servers.service import ToolServiceThread, build_tool_app, is_serving

    if settings.tools_url and is_serving(settings.tools_url):
        print(f"Tool service: {settings.tools_url} (already running)", flush=True)
        return None
    app = build_tool_app(settings, engine, build_market(settings))
    service = ToolServiceThread(app, settings.tools_host, settings.tools_port).start()
    os.environ["TOOLS_URL"] = service.url
    print(f"Tool service: {service.url}/mcp/<kind>/", flush=True)
    return service


def _start_dashboard(settings):
    """The dashboard in a background thread of this process, on DASHBOARD_HOST:DASHBOARD_PORT."""
    from dashboard.app import DashboardServer, build_dashboard

    server = DashboardServer(build_dashboard(settings), settings.dashboard_host, settings.dashboard_port)
    server.start()
    print(f"Dashboard: {server.url}", flush=True)
    return server
