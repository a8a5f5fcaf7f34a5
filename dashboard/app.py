"""Build and serve the dashboard: a Dash app over a read-only connection to the floor's database.

Nothing here runs at import. ``create_app`` wires an app from an engine; ``read_only_engine``
gives the engine whose every transaction is read-only; ``DashboardServer`` serves an app on a
port (Werkzeug's threaded server, never Dash's debug mode).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

from dash import Dash
from sqlalchemy import Engine, create_engine
from werkzeug.serving import make_server

from dashboard.callbacks import DashboardCallbacks
from dashboard.layout import page
from floor.errors import ConfigurationError
from floor.market import MarketData
from floor.settings import Settings

ASSETS = Path(__file__).parent / "assets"


def read_only_engine(url: str) -> Engine:
    """An engine whose sessions start read-only: any INSERT, UPDATE or DDL through it fails."""
    return create_engine(
        url,
        pool_size=4,
        max_overflow=8,
        pool_pre_ping=True,
        connect_args={"options": "-c default_transaction_read_only=on"},
    )


def prefect_ui_url(settings: Settings) -> str | None:
    """The Prefect UI to link flow runs to: PREFECT_UI_URL, else PREFECT_API_URL without ``/api``."""
    if settings.prefect_ui_url:
        return settings.prefect_ui_url.rstrip("/")
    api = os.environ.get("PREFECT_API_URL", "").rstrip("/")
    return api.removesuffix("/api") if api.endswith("/api") else None


def create_app(
    engine: Engine,
    market: MarketData,
    settings: Settings,
    *,
    prefect_ui: str | None = None,
    warm_up: bool = False,
) -> Dash:
    """The dashboard app over ``engine`` (give it a read-only one), with basic auth if configured.

    With ``warm_up`` the snapshot history is read in the background right away, so the first
    visitor does not wait for a year of history to load.
    """
    if bool(settings.dashboard_user) != bool(settings.dashboard_password):
        raise ConfigurationError("set both DASHBOARD_USER and DASHBOARD_PASSWORD for basic auth, or neither")
    app = Dash(
        "trading-floor",
        title="Trading Floor",
        update_title=None,  # no "Updating..." title flicker on every log poll
        assets_folder=str(ASSETS),
        serve_locally=True,
    )
    callbacks = DashboardCallbacks(engine, market, prefect_ui=prefect_ui)
    app.layout = lambda: page(
        engine,
        log_poll_ms=settings.dashboard_log_poll_ms,
        refresh_seconds=settings.dashboard_refresh_seconds,
        prefect_ui=prefect_ui,
        panels=lambda ids: callbacks.refresh_portfolios(None, 0, ids),
    )
    callbacks.register(app)
    if warm_up:
        threading.Thread(
            target=callbacks.history.read, args=(engine,), name="dashboard-warm-up", daemon=True
        ).start()
    if settings.dashboard_user:
        import dash_auth

        dash_auth.BasicAuth(app, {settings.dashboard_user: settings.dashboard_password})
    return app


class DashboardServer:
    """An app served on ``host:port`` (port 0 picks a free one) in a background thread."""

    def __init__(self, app: Dash, host: str, port: int) -> None:
        # Werkzeug logs every request; the log poll alone makes two a second per open page.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Bind here, so a port in use is an OSError to report (Werkzeug would exit the process).
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            listening = socket.create_server((host, port), family=family)
        except OSError as exc:
            raise ConfigurationError(
                f"the dashboard cannot listen on {host}:{port}: {exc.strerror}; "
                "choose another with --port or DASHBOARD_PORT"
            ) from exc
        try:
            self._server = make_server(host, port, app.server, threaded=True, fd=listening.fileno())
        finally:
            listening.close()  # the server holds its own duplicate of the socket
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="dashboard", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> DashboardServer:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def build_dashboard(settings: Settings, *, prefect_ui: str | None = None) -> Dash:
    """The app for a configured floor: migrate with the normal engine once, then read only."""
    from floor.database import connect
    from floor.market.factory import build_market

    writer = connect(settings)  # starts the embedded Postgres if needed and brings the schema up
    url = writer.url.render_as_string(hide_password=False)
    writer.dispose()
    ui = prefect_ui or prefect_ui_url(settings)
    return create_app(read_only_engine(url), build_market(settings), settings, prefect_ui=ui, warm_up=True)
