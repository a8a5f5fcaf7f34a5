"""Where the floor's Postgres lives, and how its schema gets there.

With ``DATABASE_URL`` unset the floor starts an embedded Postgres (the ``pgserver`` package) in a
per-user data directory and reuses it on every later run; with it set, that server is used.
Nothing here runs at import time: entry points call :func:`connect`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from floor.errors import ConfigurationError
from floor.settings import Settings

log = logging.getLogger(__name__)

# An arbitrary, fixed key: every process that migrates takes this advisory lock first, so two
# processes starting at once never run the same migration twice.
MIGRATION_LOCK_KEY = 7_314_159_265


def sqlalchemy_url(url: str) -> str:
    """Turn a Postgres URL as users write it into one SQLAlchemy drives with psycopg 3."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("postgresql+psycopg://"):
        return url
    raise ConfigurationError(
        f"DATABASE_URL must be a Postgres URL (postgresql://user:password@host:5432/db), "
        f"got one starting with {url.split(':', 1)[0]!r}"
    )


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("trading-floor", appauthor=False)) / "postgres"


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded Postgres in ``data_dir`` and return its URL.

    The server stops when the last process that started or joined it exits.
    """
    import warnings

    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir it does not need; the fallback is fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver

        forget_dead_handles(data_dir)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    return server.get_uri()


# pgserver keeps the pids of the processes using a server in this file of its data directory; the
# last one to exit stops the server. See pgserver.postgres_server.PostgresServer.
HANDLES_FILE = ".handle_pids.json"


def forget_dead_handles(data_dir: Path) -> list[int]:
    """Drop the handles of processes that are gone from the server's list; returns the pids dropped.

    A process killed outright (``kill -9``, an OOM kill) never removes its pid, and while it stays
    listed no later process is ever the last one out, so the server would run for good.
    """
    import json

    from pgserver.postgres_server import PostgresServer

    handles = data_dir / HANDLES_FILE
    # The same inter-process lock pgserver takes around its own reads and writes of the list.
    with PostgresServer._lock:
        try:
            pids = json.loads(handles.read_text())
        except (FileNotFoundError, ValueError):
            return []
        dead = [pid for pid in pids if not _is_alive(pid)]
        if dead:
            handles.write_text(json.dumps([pid for pid in pids if pid not in dead]))
    if dead:
        log.info("embedded Postgres in %s: forgot handles of exited processes %s", data_dir, dead)
    return dead


def _is_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # someone else's process, still there
        return True


def resolve_database_url(settings: Settings) -> str:
    """The SQLAlchemy URL of the floor's database, starting the embedded server if needed."""
    if settings.database_url:
        return sqlalchemy_url(settings.database_url)
    url = start_embedded_postgres(settings.data_dir or default_data_dir())
    return sqlalchemy_url(url)


def create_floor_engine(url: str, *, pool_size: int = 5, pre_ping: bool = True) -> Engine:
    """An engine on ``url``; ``pre_ping`` tests each connection as it leaves the pool (a round trip
    that survives a restarted server; a backtest's short-lived worker goes without)."""
    return create_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=pre_ping)


def autocommit(engine: Engine) -> Engine:
    """``engine`` with each statement its own transaction, for single statements on hot paths:
    one round trip to the server instead of three (BEGIN, the statement, COMMIT or ROLLBACK)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe when several processes do it at once."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def connect(settings: Settings, *, run_migrations: bool = True, pre_ping: bool = True) -> Engine:
    """The one way entry points get an engine: resolve the server, migrate, and export the URL.

    The URL is exported as ``DATABASE_URL`` so child processes (MCP servers) reach the same
    database, embedded or not, without starting a server of their own.
    """
    url = resolve_database_url(settings)
    # Every running turn holds a connection at a time (its own or its tool call's), and the
    # cycle a few more: a pool smaller than that opens and drops a connection on most checkouts.
    engine = create_floor_engine(url, pool_size=settings.max_concurrent_turns + 4, pre_ping=pre_ping)
    try:
        if run_migrations:
            migrate(engine)
        else:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure here means we cannot reach the database
        safe = make_url(url).render_as_string(hide_password=True)
        raise ConfigurationError(f"cannot use the database at {safe}: {exc}") from exc
    os.environ["DATABASE_URL"] = url
    return engine
