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

from floor.backtest.records import limit_note
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
async def backtest_book(
    backtest_id: int, book_id: int, trader: str, seed: int, max_dollars: float | None = None
) -> dict:
    """One book's sessions, in order, from the one after its last completed session; it stops
    early when asked, or once the backtest's model spend reaches ``max_dollars``.

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
        if max_dollars is not None and board.progress.cost >= max_dollars:
            logger.info(
                "Stopped before %s: $%.4f spent, the limit is $%.2f", day, board.progress.cost, max_dollars
            )
            return {"book": book_id, "played": played, "stopped": True, "limit": True}
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
    replay: int | None = None,
    max_dollars: float | None = None,
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
        replay: Start a replay of this backtest: its span, traders, model and seeds, every model
            call answered from its recording (no provider is asked; a request that differs stops it).
        max_dollars: Stop once the model calls have cost this much (and don't start when the
            estimate from earlier recordings is over it). Books playing side by side may each
            finish the session they are in, so the spend can pass it by up to a session a book.
    """
    logger = get_run_logger()
    stop_requested.clear()
    record = await open_backtest(
        start, end, traders, model, seeds, label, resume, replay, max_dollars, flow_run.get_id()
    )  # fmt: skip
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
            *(
                backtest_book(record.id, book.id, book.trader, book.seed, max_dollars, return_state=True)
                for book in books
            )
        )
    finally:
        runner.close()
        del playing[record.id]
    failed = [(book, state) for book, state in zip(books, ended, strict=True) if not state.is_completed()]
    outcomes = [await state.aresult() for state in ended if state.is_completed()]
    stopped = any(o["stopped"] for o in outcomes)
    status = "failed" if failed else "stopped" if stopped else "completed"
    if failed:
        note = "failed books: " + "; ".join(
            f"{book.trader} seed {book.seed} ({state.message})" for book, state in failed
        )
    elif any(o.get("limit") for o in outcomes):
        note = limit_note(max_dollars, board.progress.cost)
    else:
        note = "stopped by request" if stopped else None
    results = await summarise_backtest(record.id, status, note)
    await board.played(None, final=True)
    if failed:
        raise RuntimeError(f"backtest {record.id}: {note}")
    return {"backtest": record.id, "status": status, "sessions": sessions, "results": results}
