"""Shared fixtures: a real Postgres (embedded, started once per session) and the floor's settings.

Every test that touches the database gets the schema migrated and all tables empty. Set
``FLOOR_TEST_DATABASE_URL`` to run the same tests against an external Postgres instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from floor.database import create_floor_engine, migrate, sqlalchemy_url, start_embedded_postgres
from floor.ledger.accounts import reset_accounts
from floor.schema import metadata
from floor.settings import Settings
from floor.traders import load_traders

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# Keys a developer may have exported must not leak into tests: every test starts offline.
for _name in (
    "OPENAI_API_KEY",
    "DEEPSEEK_API_KEY",
    "GOOGLE_API_KEY",
    "GROK_API_KEY",
    "XAI_API_KEY",
    "OPENROUTER_API_KEY",
    "POLYGON_API_KEY",
    "BRAVE_API_KEY",
    "PUSHOVER_USER",
    "PUSHOVER_TOKEN",
    "APPRISE_URLS",
    "FLOOR_MODEL",
    "FLOOR_TRADERS_FILE",
):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    external = os.environ.get("FLOOR_TEST_DATABASE_URL")
    if external:
        return sqlalchemy_url(external)
    data_dir: Path = tmp_path_factory.mktemp("pg")
    return sqlalchemy_url(start_embedded_postgres(data_dir))


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Engine:
    engine = create_floor_engine(database_url, pool_size=10)
    migrate(engine)
    os.environ["DATABASE_URL"] = database_url  # child processes (MCP servers) use the same database
    yield engine
    engine.dispose()


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The floor's database with every table empty and no book (backtest ledger) left."""
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with migrated_engine.begin() as conn:
        for (schema,) in conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'book\\_%'")):
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return migrated_engine


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url)


@pytest.fixture
def floor(engine: Engine, settings: Settings) -> Engine:
    """The four default traders with fresh accounts."""
    reset_accounts(engine, load_traders(settings))
    return engine


@pytest.fixture
def serve_tools(migrated_engine: Engine):
    """Start a tool service on a loopback port for the given settings; stopped after the test."""
    from contextlib import ExitStack

    from tests.tool_service import served

    with ExitStack() as stack:
        yield lambda config, market=None: stack.enter_context(served(config, migrated_engine, market))


@pytest.fixture
def tool_service(serve_tools, settings: Settings):
    """The tool service for the default test settings (simulated market, offline)."""
    return serve_tools(settings)


@pytest.fixture(scope="session")
def prefect_api():
    """A Prefect API for the whole session: one temporary server, not one per flow run."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()
