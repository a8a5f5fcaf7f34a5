"""Where the floor's Postgres lives: URLs as users write them, embedded reuse, an external server."""

from __future__ import annotations

import os
import uuid
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import inspect, text

from floor.database import connect, sqlalchemy_url
from floor.errors import ConfigurationError
from floor.ledger import trades as ledger
from floor.ledger.accounts import reset_accounts
from floor.market.cache import PriceBook
from floor.market.simulated import SimulatedMarket
from floor.settings import Settings
from floor.traders import load_traders

EXTERNAL_SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_urls_as_users_write_them(given, expected):
    assert sqlalchemy_url(given) == expected


def test_a_non_postgres_url_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="must be a Postgres URL"):
        sqlalchemy_url("mysql://root@localhost/db")


def test_an_unreachable_server_is_a_clear_error_without_the_password():
    settings = Settings(_env_file=None, database_url="postgresql://floor:hunter2@127.0.0.1:1/floor")
    with pytest.raises(ConfigurationError) as caught:
        connect(settings)
    assert "cannot use the database" in str(caught.value) and "hunter2" not in str(caught.value)


def test_embedded_postgres_keeps_its_data_between_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings(_env_file=None, data_dir=tmp_path / "pg")
    first = connect(settings)
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE kept (x int)"))
        conn.execute(text("INSERT INTO kept VALUES (42)"))
    first.dispose()
    second = connect(settings)
    with second.connect() as conn:
        assert conn.execute(text("SELECT x FROM kept")).scalar_one() == 42
    assert "accounts" in inspect(second).get_table_names()
    second.dispose()


@pytest.fixture
def external_database(monkeypatch):
    """A fresh database on the machine's Postgres server; CI must have one."""
    name = f"floor_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(f"{EXTERNAL_SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Postgres server at 127.0.0.1:5432")
    admin.execute(f'CREATE DATABASE "{name}"')
    monkeypatch.delenv("DATABASE_URL", raising=False)
    yield f"{EXTERNAL_SERVER}/{name}"
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def test_external_postgres_from_database_url(external_database):
    settings = Settings(_env_file=None, database_url=external_database)
    engine = connect(settings)
    assert engine.url.host == "127.0.0.1"
    reset_accounts(engine, load_traders(settings))
    prices = PriceBook(engine, SimulatedMarket())
    trade = ledger.buy(engine, "Ray", "TLT", 10, "bonds", prices, idempotency_key="ext-1")
    ledger.sell(engine, "Ray", "TLT", 4, "trim", prices, idempotency_key="ext-2")
    history = ledger.transaction_history(engine, "Ray")
    cash = Decimal("10000.00") - history[0].total + history[1].total
    assert ledger.balance(engine, "Ray") == cash
    assert [(h.symbol, h.shares) for h in ledger.holdings(engine, "Ray")] == [("TLT", 6)]
    assert trade.price == history[0].price
    engine.dispose()
