"""Build and serve the dashboard: a Dash app over a read-only connection to the floor's database.

Nothing here runs at import. ``create_app`` wires an app from an engine, behind basic auth when
configured and with request bodies capped; ``read_only_engine`` gives the engine that reads as the
SELECT-only ``floor_reader`` role (where the migrations could create it) in read-only
transactions; ``DashboardServer`` serves an app on a port (Werkzeug's threaded server, never
Dash's debug mode).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

from dash import Dash
from sqlalchemy import Engine, create_engine, event
from werkzeug.serving import make_server

from dashboard.access import BasicAuthGate
from dashboard.backtests import serve_backtests
from dashboard.callbacks import DashboardCallbacks
from dashboard.layout import page
from floor.errors import ConfigurationError
from floor.settings import Settings

ASSETS = Path(__file__).parent / "assets"
READER_ROLE = "floor_reader"  # created by migration 0005 where the migrating user may create roles

log = logging.getLogger(__name__)

# Does the reader role exist (a row), and may this login become it (the value)? SET is its own
# membership option from Postgres 16 on; before that, membership is enough.
_MAY_BECOME_READER = """
SELECT CASE WHEN current_setting('server_version_num')::int >= 160000
            THEN pg_has_role(current_user, oid, 'SET')
            ELSE pg_has_role(current_user, oid, 'MEMBER') END
FROM pg_roles WHERE rolname = %s
"""


def read_only_engine(url: str) -> Engine:
    """An engine that can only read: every connection acts as the SELECT-only reader role when it
    exists, and every transaction starts read-only either way (the second line, and the only one
    on a server where no role could be created).
    """
    engine = create_engine(
        url,
        pool_size=4,
        max_overflow=8,
        pool_pre_ping=True,
        connect_args={"options": "-c default_transaction_read_only=on"},
    )
    warned = []

    @event.listens_for(engine, "connect")
    def become_reader(dbapi_connection, _record) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(_MAY_BECOME_READER, (READER_ROLE,))
            row = cursor.fetchone()
            if row is not None and row[0]:
                cursor.execute(f"SET ROLE {READER_ROLE}")
            elif row is not None and not warned:
                warned.append(True)
                log.warning(
                    "the dashboard's database user may not SET ROLE %s; it reads in read-only "
                    "transactions only (GRANT %s TO the dashboard's user to add the role)",
                    READER_ROLE,
                    READER_ROLE,
                )
        dbapi_connection.commit()  # the SET outlives this transaction: it holds for the session

    return engine


def prefect_ui_url(settings: Settings) -> str | None:
    """The Prefect UI to link flow runs to: PREFECT_UI_URL, else PREFECT_API_URL without ``/api``."""
    if settings.prefect_ui_url:
        return settings.prefect_ui_url.rstrip("/")
    api = os.environ.get("PREFECT_API_URL", "").rstrip("/")
    return api.removesuffix("/api") if api.endswith("/api") else None


def create_app(
    engine: Engine,
    source: str,
    settings: Settings,
    *,
    prefect_ui: str | None = None,
    warm_up: bool = False,
) -> Dash:
    """The dashboard app over ``engine`` (give it a read-only one), with basic auth if configured.

    ``source`` is the configured market's name: holdings are valued at its newest cached prices,
    and the dashboard never asks a market for anything.

    Basic auth wraps the whole server, so credentials are checked before any route runs or any
    body is read; bodies above ``DASHBOARD_MAX_REQUEST_BYTES`` get 413. With ``warm_up`` the
    snapshot history is read in the background right away, so the first visitor does not wait
    for a year of history to load.
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
    app.server.config["MAX_CONTENT_LENGTH"] = settings.dashboard_max_request_bytes
    callbacks = DashboardCallbacks(engine, source, prefect_ui=prefect_ui)
    app.layout = lambda: page(
        engine,
        log_poll_ms=settings.dashboard_log_poll_ms,
        refresh_seconds=settings.dashboard_refresh_seconds,
        prefect_ui=prefect_ui,
        panels=lambda ids: callbacks.refresh_portfolios(None, 0, ids),
    )
    callbacks.register(app)
    serve_backtests(app.server, engine, refresh_seconds=settings.dashboard_refresh_seconds, assets=ASSETS)
    if warm_up:
        threading.Thread(
            target=callbacks.history.read, args=(engine,), name="dashboard-warm-up", daemon=True
        ).start()
    if settings.dashboard_user:
        app.server.wsgi_app = BasicAuthGate(
            app.server.wsgi_app, settings.dashboard_user, settings.dashboard_password
        )
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
    from floor.market.factory import market_source

    writer = connect(settings)  # starts the embedded Postgres if needed and brings the schema up
    url = writer.url.render_as_string(hide_password=False)
    writer.dispose()
    ui = prefect_ui or prefect_ui_url(settings)
    return create_app(read_only_engine(url), market_source(settings), settings, prefect_ui=ui, warm_up=True)
