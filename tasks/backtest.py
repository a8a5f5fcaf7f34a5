"""The backtest flow's tasks and its session runner: thin adapters over ``floor.backtest``."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_progress_artifact, aupdate_progress_artifact

from floor.backtest.recordings import check_limit, estimate_backtest, start_replay
from floor.backtest.records import (
    Backtest,
    backtest_of_flow_run,
    book_profile,
    create_backtest,
    ensure_books,
    find_backtest,
    plan_backtest,
    set_status,
)
from floor.backtest.results import backtest_results
from floor.backtest.sessions import PlayedSession, finished_sessions, rewind
from floor.books import book_engine, find_book
from floor.traders import load_traders
from tasks import floor_task, runtime

# Set (by `floor backtest` on Ctrl+C) to stop every book after the session it is playing.
stop_requested = threading.Event()


@dataclass
class Progress:
    """Sessions played of all, and dollars spent, across a backtest's books."""

    total: int
    done: int = 0
    cost: float = 0.0


# `floor backtest` listens here for its progress bar; each gets the Progress after every session.
progress_listeners: list[Callable[[Progress], None]] = []


@floor_task(name="open-backtest")
async def open_backtest(
    start: date | None,
    end: date | None,
    traders: list[str] | None,
    model: str | None,
    seeds: int,
    label: str,
    resume: int | None,
    replay: int | None,
    max_dollars: float | None,
    flow_run_id: str | None,
) -> Backtest:
    """The backtest this flow run plays: ``resume``'s, the one a retried run started, or a new one
    (a replay of ``replay``'s recording, when given)."""
    arguments = (start, end, traders, model, seeds, label, resume, replay, max_dollars, flow_run_id)
    return await asyncio.to_thread(_open, *arguments)


def _open(start, end, traders, model, seeds, label, resume, replay, max_dollars, flow_run_id) -> Backtest:
    engine, profiles = runtime.engine(), load_traders(runtime.settings())
    if resume is not None:
        backtest = find_backtest(engine, resume)
    else:
        backtest = backtest_of_flow_run(engine, flow_run_id) if flow_run_id else None
        if backtest is None and replay is not None:
            backtest = start_replay(engine, replay, label=label, flow_run_id=flow_run_id)
        elif backtest is None:
            spec = plan_backtest(
                profiles, start, end, traders=traders, model=model, seeds=seeds, label=label
            )  # fmt: skip
            check_limit(estimate_backtest(engine, spec, profiles), max_dollars)
            backtest = create_backtest(engine, spec, flow_run_id=flow_run_id)
    set_status(engine, backtest.id, "running", flow_run_id=flow_run_id)
    return find_backtest(engine, backtest.id)


@floor_task(name="prepare-books")
async def prepare_books(backtest_id: int) -> list[int]:
    """Every book of the backtest made (with its account), and the market's history cached."""
    return await asyncio.to_thread(_prepare, backtest_id)


def _prepare(backtest_id: int) -> list[int]:
    from floor.market.factory import prepare_backtest_market

    engine, settings = runtime.engine(), runtime.settings()
    backtest = find_backtest(engine, backtest_id)
    books = ensure_books(engine, backtest, load_traders(settings))
    requests = prepare_backtest_market(settings, engine, backtest.spec.start, backtest.spec.end)
    if requests is not None:
        get_run_logger().info("Daily closes for the span: %d requests upstream (0 when cached)", requests)
    return [book.id for book in books]


@floor_task(name="rewind-book")
async def rewind_book(backtest_id: int, book_id: int) -> list[date]:
    """Undo whatever an unfinished session of the book wrote; returns the sessions left to play."""
    return await asyncio.to_thread(_rewind, backtest_id, book_id)


def _rewind(backtest_id: int, book_id: int) -> list[date]:
    engine = runtime.engine()
    backtest = find_backtest(engine, backtest_id)
    book = find_book(engine, book_id)
    books_engine = book_engine(engine, book)
    rewind(books_engine, [book_profile(backtest, book, load_traders(runtime.settings()))])
    done = set(finished_sessions(books_engine))
    return [day for day in backtest.sessions if day not in done]


@floor_task(name="backtest-results")
async def summarise_backtest(backtest_id: int, status: str, note: str | None) -> dict:
    """Store the results with the backtest, and publish them as the flow run's artifact."""
    engine = runtime.engine()
    backtest = find_backtest(engine, backtest_id)
    results = await asyncio.to_thread(backtest_results, engine, backtest, runtime.settings())
    set_status(engine, backtest_id, status, note=note, results=results)
    from floor.backtest.report import results_markdown

    await acreate_markdown_artifact(
        key=f"backtest-{backtest_id}",
        markdown=results_markdown(find_backtest(engine, backtest_id)),
        description=f"Backtest {backtest_id}: every trader beside SPY and equal weight",
    )
    return results


def end_backtest_run(flow, run, state) -> None:
    """Prefect's ``on_failure``, ``on_crashed`` and ``on_cancellation`` hook: the backtest this run
    plays is recorded as failed or stopped, with why (it resumes from its last finished session)."""
    engine = runtime.engine()
    record = backtest_of_flow_run(engine, str(run.id))
    if record is not None and record.status == "running":
        status = "failed" if state.is_failed() else "stopped"
        set_status(engine, record.id, status, note=f"the flow run ended {state.name}: {state.message}")


class SessionRunner:
    """Plays sessions of books: in worker processes (BACKTEST_WORKERS; default one per core, at
    most one per book), or on threads of this process (``0``)."""

    @staticmethod
    def count(books: int) -> int:
        """How many worker processes play ``books`` books (0: threads of this process)."""
        configured = runtime.settings().backtest_workers
        return min(os.cpu_count() or 1 if configured is None else configured, books)

    def __init__(self, books: int) -> None:
        self.workers = workers = self.count(books)
        self._pool = None
        self._player = None
        if workers:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            from servers.book_player import start_worker

            runtime.database_url()  # exported as DATABASE_URL, so workers reach this database
            self._pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"), initializer=start_worker
            )
        else:
            from floor.market.factory import build_backtest_market
            from servers.book_player import BookPlayer

            settings, engine = runtime.settings(), runtime.engine()
            self._player = BookPlayer(settings, engine, build_backtest_market(settings, engine))

    async def play(self, book_id: int, day: date) -> PlayedSession:
        if self._pool is not None:
            from servers.book_player import play_in_worker

            return await asyncio.get_running_loop().run_in_executor(self._pool, play_in_worker, book_id, day)
        return await asyncio.to_thread(self._player.play, book_id, day)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._player is not None:
            self._player.close()


# The runner and progress board of each backtest this process is playing, for its book subflows.
playing: dict[int, tuple[SessionRunner, ProgressArtifact]] = {}


class ProgressArtifact:
    """The flow run's progress artifact, updated at most once a second (and at the end)."""

    def __init__(self, progress: Progress, backtest_id: int, sessions: int) -> None:
        self.progress, self.backtest_id, self.sessions = progress, backtest_id, sessions
        self._id = None
        self._sent = 0.0

    async def start(self) -> None:
        self._id = await acreate_progress_artifact(
            progress=self._percent(),
            key=f"backtest-{self.backtest_id}-progress",
            description=f"Backtest {self.backtest_id}: sessions played of {self.progress.total}",
        )
        self._sent = time.monotonic()

    async def played(self, session: PlayedSession | None, *, final: bool = False) -> None:
        if session is not None:
            self.progress.done += 1
            self.progress.cost += float(session.cost)
            for listener in progress_listeners:
                listener(self.progress)
        if self._id is not None and (final or time.monotonic() - self._sent >= 1.0):
            self._sent = time.monotonic()
            await aupdate_progress_artifact(self._id, progress=self._percent())

    def _percent(self) -> float:
        return 100.0 * self.progress.done / self.progress.total if self.progress.total else 100.0
