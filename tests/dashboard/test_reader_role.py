"""The dashboard reads as ``floor_reader``, a role that may only SELECT (migration 0005), and in
read-only transactions as a second line; on a server where no role could be made, the second line
alone holds."""

from __future__ import annotations

import warnings
from importlib.resources import files

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from dashboard.app import READER_ROLE, read_only_engine
from floor.database import create_floor_engine, migrate, sqlalchemy_url

WRITES = (
    "UPDATE accounts SET cash = 0",
    "INSERT INTO activity_logs (account_id, type, message) SELECT id, 'trace', 'x' FROM accounts",
    "DELETE FROM transactions",
    "TRUNCATE prices",
)


def books(engine) -> tuple:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT (SELECT count(*) FROM accounts), (SELECT sum(cash) FROM accounts), "
                "(SELECT count(*) FROM activity_logs), (SELECT count(*) FROM transactions)"
            )
        ).one()


def whoami(engine) -> tuple[str, str, str]:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT current_user, session_user, current_setting('default_transaction_read_only')")
        ).one()


def test_the_dashboard_reads_as_the_select_only_role(reader, traded_floor):
    current, session, read_only = whoami(reader)
    assert current == READER_ROLE and session != READER_ROLE and read_only == "on"
    with reader.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM accounts")).scalar_one() == 4
        # SELECT on every table the migrations made, and only SELECT
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
        for (table,) in tables:
            grants = conn.execute(
                text(
                    "SELECT has_table_privilege(:role, :t, 'SELECT'), "
                    "has_table_privilege(:role, :t, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')"
                ),
                {"role": READER_ROLE, "t": table},
            ).one()
            assert tuple(grants) == (True, False), table


def test_a_write_fails_for_both_reasons(reader, traded_floor):
    before = books(traded_floor)
    for statement in WRITES:  # the first line: every transaction starts read-only
        with pytest.raises(DBAPIError, match="read-only transaction"):
            with reader.begin() as conn:
                conn.execute(text(statement))
    for statement in (*WRITES, "CREATE TABLE sneaky (id int)"):  # the second: the role has no right to
        with pytest.raises(DBAPIError, match="permission denied"):
            with reader.begin() as conn:
                conn.execute(text("SET TRANSACTION READ WRITE"))
                conn.execute(text(statement))
    with reader.connect() as conn:
        try:
            conn.execute(text("SET default_transaction_read_only = off"))  # for the whole session
            conn.commit()
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text("UPDATE accounts SET cash = cash + 1"))
        finally:
            conn.invalidate()  # never back into the pool with the default switched off
    assert books(traded_floor) == before


@pytest.fixture
def fresh_server(tmp_path):
    """A Postgres server of its own (no floor_reader role yet), as its superuser."""
    import pgserver

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()


def database_of(server, user: str, database: str) -> str:
    """The URL of a new ``database`` owned by the login ``user``."""
    admin_url = sqlalchemy_url(server.get_uri())
    admin = create_floor_engine(admin_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {database} OWNER {user}"))
    admin.dispose()
    return make_url(admin_url).set(username=user, database=database).render_as_string(hide_password=False)


def test_role_made_where_the_user_may_and_skipped_quietly_where_not(fresh_server):
    superuser = create_floor_engine(sqlalchemy_url(fresh_server.get_uri()))
    with superuser.begin() as conn:
        conn.execute(text("CREATE ROLE plain LOGIN"))  # owns its database, may not create roles
        conn.execute(text("CREATE ROLE keeper LOGIN CREATEROLE"))

    def role_exists() -> bool:
        with superuser.connect() as conn:
            query = text("SELECT count(*) FROM pg_roles WHERE rolname = :r")
            return conn.execute(query, {"r": READER_ROLE}).scalar_one() == 1

    try:
        plain_url = database_of(fresh_server, "plain", "plain_floor")
        plain = create_floor_engine(plain_url)
        migrate(plain)  # no error: the role is skipped
        assert not role_exists()
        reader = read_only_engine(plain_url)
        assert whoami(reader) == ("plain", "plain", "on")
        with pytest.raises(DBAPIError, match="read-only transaction"):
            with reader.begin() as conn:
                conn.execute(text("UPDATE accounts SET cash = 0"))
        reader.dispose()
        plain.dispose()

        keeper_url = database_of(fresh_server, "keeper", "keeper_floor")
        keeper = create_floor_engine(keeper_url)
        migrate(keeper)
        assert role_exists()
        reader = read_only_engine(keeper_url)
        assert whoami(reader) == (READER_ROLE, "keeper", "on")
        with pytest.raises(DBAPIError, match="permission denied"):
            with reader.begin() as conn:
                conn.execute(text("SET TRANSACTION READ WRITE"))
                conn.execute(text("UPDATE accounts SET cash = 0"))
        reader.dispose()

        config = Config()
        config.set_main_option("script_location", str(files("floor") / "migrations"))
        with keeper.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")  # just below the reader role
        assert not role_exists()  # no other database used it
        keeper.dispose()
    finally:
        superuser.dispose()
