"""Plays a backtest's sessions, in this process or in worker processes of its own.

A :class:`BookPlayer` keeps, per book, the book's engine, its trader (with the backtest's model),
its seed, where its model calls are recorded or replayed from, and its tools
(:class:`servers.in_process.BookTools`), and plays one session at a time
(:func:`floor.backtest.sessions.play_session`). Books are independent, so several play at once: on
threads of one process, or — since a turn is mostly Python holding the GIL — in worker processes,
one per core (:func:`play_in_worker`, for a ``ProcessPoolExecutor``). Every piece of state is in
Postgres, so any worker can play any book's next session.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine

from floor.backtest.recordings import BookCalls, book_calls
from floor.backtest.records import book_profile, find_backtest
from floor.backtest.sessions import PlayedSession, play_session
from floor.books import book_engine, find_book
from floor.market import MarketData
from floor.settings import Settings
from floor.traders import TraderProfile, load_traders
from servers.in_process import BookTools


@dataclass(frozen=True)
class _Seat:
    engine: Engine
    profile: TraderProfile
    seed: int | None
    tools: BookTools
    calls: BookCalls


class BookPlayer:
    """Plays sessions of any book of the database ``engine`` reads, priced by ``market``."""

    def __init__(self, settings: Settings, engine: Engine, market: MarketData) -> None:
        self._settings, self._engine, self._market = settings, engine, market
        self._seats: dict[int, _Seat] = {}
        self._lock = threading.Lock()

    def seat(self, book_id: int) -> _Seat:
        with self._lock:
            seat = self._seats.get(book_id)
            if seat is None:
                book = find_book(self._engine, book_id)
                backtest = find_backtest(self._engine, book.backtest_id)
                profile = book_profile(backtest, book, load_traders(self._settings))
                tools = BookTools(self._settings, self._market, book.schema)
                calls = book_calls(self._engine, backtest, book)
                seat = self._seats[book_id] = _Seat(
                    book_engine(self._engine, book), profile, book.seed, tools, calls
                )
            return seat

    def close(self) -> None:
        """Close every book's kept tool sessions."""
        with self._lock:
            for seat in self._seats.values():
                seat.tools.close()
            self._seats.clear()

    def play(self, book_id: int, day: date) -> PlayedSession:
        """Play session ``day`` of book ``book_id`` (the book's earlier sessions are complete)."""
        seat = self.seat(book_id)
        return play_session(
            seat.engine, self._settings, seat.profile, self._market, day, seat.tools,
            seed=_seed(seat), calls=seat.calls.session(day),
        )  # fmt: skip


def _seed(seat: _Seat) -> int | None:
    """The seed a language model is asked for; the offline rules need none."""
    return None if seat.profile.model == "offline" else seat.seed


_worker: BookPlayer | None = None


def start_worker() -> None:
    """A worker process's start: Ctrl+C is its parent's to handle (it stops between sessions)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def play_in_worker(book_id: int, day: date) -> PlayedSession:
    """:meth:`BookPlayer.play` in a worker process, its player built on first use from the
    environment (the parent exported ``DATABASE_URL``)."""
    global _worker
    if _worker is None:
        from floor.database import connect
        from floor.market.factory import build_backtest_market

        settings = Settings()
        engine = connect(settings, run_migrations=False, pre_ping=False)
        _worker = BookPlayer(settings, engine, build_backtest_market(settings, engine))
    return _worker.play(book_id, day)
