"""The activity log: what each trader did, step by step, oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from floor.database import autocommit
from floor.ledger.accounts import get_account
from floor.schema import LOG_TYPES, accounts, activity_logs

MAX_MESSAGE_LENGTH = 4000


@dataclass(frozen=True)
class LogEntry:
    id: int
    trader: str
    created_at: datetime
    type: str
    message: str


def write_log(engine: Engine, trader: str, type: str, message: str, *, cycle_id: int | None = None) -> None:
    """Append one line to the trader's activity log."""
    write_logs(engine, trader, [(type, message)], cycle_id=cycle_id)


def write_logs(
    engine: Engine, trader: str, entries: list[tuple[str, str]], *, cycle_id: int | None = None
) -> None:
    """Append ``(type, message)`` lines to the trader's log, in order, in one statement."""
    if not entries:
        return
    rows = []
    for type_, message in entries:
        if type_ not in LOG_TYPES:
            raise ValueError(f"log type must be one of {LOG_TYPES}, got {type_!r}")
        text = str(message)
        if len(text) > MAX_MESSAGE_LENGTH:
            text = text[: MAX_MESSAGE_LENGTH - 3] + "..."
        rows.append({"type": type_, "message": text})
    account_id = select(accounts.c.id).where(accounts.c.name == trader).scalar_subquery()
    try:
        # One statement, its own transaction: a turn writes a few entries per step.
        with autocommit(engine).connect() as conn:
            # executemany: psycopg sends it as one INSERT, and its compiled form is cached (a
            # multi-row VALUES list is compiled anew for each new number of rows).
            conn.execute(insert(activity_logs).values(account_id=account_id, cycle_id=cycle_id), rows)
    except IntegrityError:
        with engine.connect() as conn:
            get_account(conn, trader)  # the floor's clear error for an unknown trader
        raise


def read_logs(
    engine: Engine, trader: str, *, last: int | None = None, after_id: int | None = None
) -> list[LogEntry]:
    """The trader's log, oldest first: only entries after ``after_id``, only the newest ``last``."""
    query = (
        select(activity_logs.c.id, activity_logs.c.created_at, activity_logs.c.type, activity_logs.c.message)
        .join(accounts, accounts.c.id == activity_logs.c.account_id)
        .where(accounts.c.name == trader)
        .order_by(activity_logs.c.id.desc())
    )
    if after_id is not None:
        query = query.where(activity_logs.c.id > after_id)
    if last is not None:
        query = query.limit(last)
    with engine.connect() as conn:
        get_account(conn, trader)  # a clear error for an unknown trader
        rows = list(conn.execute(query))
    return [LogEntry(r.id, trader, r.created_at, r.type, r.message) for r in reversed(rows)]
