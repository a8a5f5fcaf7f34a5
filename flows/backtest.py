"""A backtest: past NYSE sessions replayed through the traders, each (trader, seed) in a book of its own.

One flow run per backtest; inside it one ``backtest-book`` subflow per (trader, seed) walks the
sessions of the span in order, the books side by side. Each session is a cycle of the book at the
session's clock (``floor.backtest.sessions``), played in a worker process or a thread
(``tasks.backtest.SessionRunner``). A progress artifact follows the sessions played; the results
(every trader beside SPY and equal weight) are stored with the backtest and published as a
markdown artifact.

Stopping: ``floor backtest`` asks every book to stop after the session it is playing (Ctrl+C); a
killed run leaves at most one unfinished session per book. Either way the next run of the same
backtest — a retry of the flow run, or ``resume=ID`` (``floor backtest resume ID``) — rewinds
what was unfinished and plays on from the last completed session.
"""

from __future__ import annotations

import asyncio
from datetime import date

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from floor.books import find_book
from tasks import runtime
from tasks.backtest import (
    Progress,
    ProgressArtifact,
    SessionRunner,
    end_backtest_run,
    open_backtest,
    playing,
    prepare_books,
    rewind_book,
    stop_requested,
    summarise_backtest,
)

# How often a book's subflow writes a line to its log: every this many sessions (about a month).
LOG_EVERY = 21


@flow(name="backtest-book", flow_run_name="{trader}-seed-{seed}")
async def backtest_book(backtest_id: int, book_id: int, trader: str, seed: int) -> dict:
    """One book's sessions, in order, from the one after its last completed session.

    Parameters are plain values (the UI shows them); the runner and the progress board of the
    backtest come from its parent run, in this process.
    """
    logger = get_run_logger()
    runner, board = playing[backtest_id]
    remaining = await rewind_book(backtest_id, book_id)
    board.progress.done += board.sessions - len(remaining)
    played = 0
    for day in remaining:
        if stop_requested.is_set():
            logger.info("Stopped before %s: %d sessions played this run", day, played)
            return {"book": book_id, "played": played, "stopped": True}
        session = await runner.play(book_id, day)
        played += 1
        await board.played(session)
        if played % LOG_EVERY == 0 or played == len(remaining):
            logger.info(
                "%s: %s, value $%s, %s",
                day,
                session.status,
                f"{session.value:,.2f}",
                f"${board.progress.cost:.4f} spent on models so far",
            )
    return {"book": book_id, "played": played, "stopped": False}


@flow(
    name="backtest",
    on_failure=[end_backtest_run],
    on_crashed=[end_backtest_run],
    on_cancellation=[end_backtest_run],
)
async def backtest(
    start: date | None = None,
    end: date | None = None,
    traders: list[str] | None = None,
    model: str | None = None,
    seeds: int = 1,
    label: str = "",
    resume: int | None = None,
) -> dict:
    """Replay the NYSE sessions from ``start`` to ``end`` (both included).

    Args:
        start, end: The span; its last session must have opened already (not needed to resume).
        traders: Only these traders (by name); default every configured trader.
        model: Every trader's model for this backtest (a litellm model string, or ``offline``);
            default each trader's own.
        seeds: Books per trader, each asking a language model for its own seed.
        label: A note to tell backtests apart.
        resume: Play on the backtest with this id instead of starting one (its own span and traders).
    """
    logger = get_run_logger()
    stop_requested.clear()
    record = await open_backtest(start, end, traders, model, seeds, label, resume, flow_run.get_id())
    book_ids = await prepare_books(record.id)
    books = [find_book(runtime.engine(), book_id) for book_id in book_ids]
    sessions = len(record.sessions)
    logger.info(
        "Backtest %d: %d sessions (%s to %s) x %d books", record.id, sessions, record.spec.start,
        record.spec.end, len(books),
    )  # fmt: skip
    board = ProgressArtifact(Progress(total=sessions * len(books)), record.id, sessions)
    runner = SessionRunner(len(books))
    playing[record.id] = (runner, board)
    try:
        await board.start()
        ended = await asyncio.gather(
            *(backtest_book(record.id, book.id, book.trader, book.seed, return_state=True) for book in books)
        )
    finally:
        runner.close()
        del playing[record.id]
    failed = [book.trader for book, state in zip(books, ended, strict=True) if not state.is_completed()]
    stopped = any([(await state.aresult())["stopped"] for state in ended if state.is_completed()])
    status = "failed" if failed else "stopped" if stopped else "completed"
    note = f"failed books: {', '.join(failed)}" if failed else "stopped by request" if stopped else None
    results = await summarise_backtest(record.id, status, note)
    await board.played(None, final=True)
    if failed:
        raise RuntimeError(f"backtest {record.id}: {note}")
    return {"backtest": record.id, "status": status, "sessions": sessions, "results": results}
