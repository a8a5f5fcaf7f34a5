"""Whether the process behind a running cycle or turn is still alive.

A process that starts cycles or turns holds a *lease*: a Postgres session of its own, open for as
long as the process lives, holding a session-level advisory lock on an owner number drawn from
the ``run_owners`` sequence. Every cycle and turn row it starts carries that number. Postgres
drops the lock the moment the session ends — the process exited, was killed (``kill -9``, the OOM
killer) or lost its machine (once TCP gives up on it) — so a ``running`` row whose owner's lock is
free has no process behind it any more, and :func:`floor.runs.cycles.mark_crashed` says so.

Why a lock and not "every running cycle but the newest": cycles may overlap (an ad-hoc
``floor run`` during a scheduled one, several workers on one pool, a retried run), and a lock
needs no clock, no heartbeat and no guess at how long a turn may take.

The lease is opened on first use and kept per process and database, like the process itself:
one extra connection per process, however many cycles and turns it runs.
"""

from __future__ import annotations

import os
import threading

from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import ColumnElement

from floor.schema import run_owners

# The advisory-lock class of leases: locks are (LEASE_LOCK_CLASS, owner) in the two-key form,
# which never meets the single-key locks the floor takes elsewhere (migrations, cache fills).
LEASE_LOCK_CLASS = 7_315


class Lease:
    """This process's lease on one database: an owner number and the session that holds it."""

    def __init__(self, engine: Engine) -> None:
        # A connection of its own, outside the pool: it stays checked out for the process's life.
        self._engine = create_engine(engine.url, poolclass=NullPool)
        self._conn: Connection | None = None
        self._owner: int | None = None
        self._lock = threading.Lock()

    def owner(self) -> int:
        """The owner number to stamp on a row this process starts, its lock held.

        A session that was lost (a restarted server) is opened again and takes the same number
        back, or a new one if the old session still lingers on the server.
        """
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT 1"))
                    return self._owner
                except DBAPIError:
                    self._conn.invalidate()
                    self._conn = None
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self._owner is None or not self._take(self._owner):
                self._owner = self._draw()
            return self._owner

    def _draw(self) -> int:
        while True:  # a number is held by someone else only once the sequence wrapped around
            owner = self._conn.execute(select(run_owners.next_value())).scalar_one()
            if self._take(owner):
                return owner

    def _take(self, owner: int) -> bool:
        held = func.pg_try_advisory_lock(LEASE_LOCK_CLASS, owner)
        return bool(self._conn.execute(select(held)).scalar_one())


_leases: dict[tuple[int, str], Lease] = {}
_leases_lock = threading.Lock()


def process_owner(engine: Engine) -> int:
    """This process's owner number on ``engine``'s database, taking the lease on first use."""
    # Keyed by process id too: a forked child must never use (or close) its parent's session.
    key = (os.getpid(), engine.url.render_as_string(hide_password=False))
    with _leases_lock:
        lease = _leases.get(key)
        if lease is None:
            lease = _leases[key] = Lease(engine)
    return lease.owner()


def owner_gone(owner: ColumnElement) -> ColumnElement:
    """SQL: true when no live process holds the lease of ``owner`` (or the row has no owner).

    Tries the lock for the statement's transaction only, so it is free again at commit. Only
    correct on a connection other than a lease's own (its own locks would be granted again).
    """
    return owner.is_(None) | func.pg_try_advisory_xact_lock(LEASE_LOCK_CLASS, owner)
