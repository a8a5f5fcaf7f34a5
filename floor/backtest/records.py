"""A backtest's record and its books: one book per (trader, seed), each with one account.

A backtest is planned (:func:`plan_backtest`, which checks everything and writes nothing), then
created (:func:`create_backtest`: its row, then its books). Books are made by
:func:`ensure_books`, which makes whichever are missing, so a backtest killed while its books were
being created is completed by its next run. Deleting a backtest drops its books' schemas with it;
the live floor never changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlalchemy import Engine, func, insert, null, select, update

from floor.books import Book, book_engine, create_book, delete_book, list_books
from floor.errors import ConfigurationError, FloorError, shown
from floor.ledger.accounts import ensure_accounts
from floor.schema import backtests
from floor.traders import TraderProfile, find_trader

MAX_SEEDS = 100
LIMIT_REACHED = "stopped at the --max-dollars limit"  # how the note of a backtest stopped by it starts
MAX_LABEL_LENGTH = 200


class UnknownBacktest(FloorError):
    """No backtest has that id."""


@dataclass(frozen=True)
class BacktestSpec:
    """What a backtest replays: a span of sessions, which traders, which model, how many seeds."""

    start: date
    end: date
    traders: tuple[str, ...]
    model: str | None = None
    seeds: int = 1
    label: str = ""


@dataclass(frozen=True)
class Backtest:
    """A backtest as recorded."""

    id: int
    spec: BacktestSpec
    status: str
    created_at: datetime
    finished_at: datetime | None
    flow_run_id: str | None
    results: dict | None
    note: str | None
    replay_of: int | None = None  # the backtest whose recorded model calls this one replays

    @property
    def stopped_at_limit(self) -> bool:
        """Stopped because its model calls reached the --max-dollars limit (see :func:`limit_note`)."""
        return self.status == "stopped" and (self.note or "").startswith(LIMIT_REACHED)

    @property
    def sessions(self) -> list[date]:
        from floor.market.calendar import sessions_between

        return sessions_between(self.spec.start, self.spec.end)


def plan_backtest(
    profiles: list[TraderProfile],
    start: date,
    end: date,
    *,
    traders: list[str] | None = None,
    model: str | None = None,
    seeds: int = 1,
    label: str = "",
    now: datetime | None = None,
) -> BacktestSpec:
    """The spec of a backtest, every argument checked; a ConfigurationError says what is wrong.

    Args:
        profiles: The configured traders; ``traders`` picks among them by name (default: all).
        start, end: The span, both included; it must hold at least one NYSE session, and its last
            session must have opened by ``now`` (a backtest replays the past).
    """
    from floor.market.calendar import session_open, sessions_between

    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ConfigurationError(f"{name} must be a date (YYYY-MM-DD), got {shown(value)}")
    if start > end:
        raise ConfigurationError(f"start {start} is after end {end}")
    try:
        sessions = sessions_between(start, end)
    except Exception as exc:  # noqa: BLE001 - the calendar's own words for a span outside it
        raise ConfigurationError(f"the NYSE calendar has no sessions for {start} to {end}: {exc}") from exc
    if not sessions:
        raise ConfigurationError(f"there is no NYSE session from {start} to {end}")
    now = now or datetime.now(UTC)
    if session_open(sessions[-1]) > now:
        raise ConfigurationError(
            f"a backtest replays the past: the session of {sessions[-1]} has not opened yet "
            f"(it is {now:%Y-%m-%d %H:%M} UTC)"
        )
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ConfigurationError(f"seeds must be a whole number from 1 to {MAX_SEEDS}, got {shown(seeds)}")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ConfigurationError(f"model must name a model, got {shown(model)}")
    if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH or not label.isprintable():
        raise ConfigurationError(f"a label is printable text of at most {MAX_LABEL_LENGTH} characters")
    names = [find_trader(profiles, name).name for name in traders] if traders else [p.name for p in profiles]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigurationError(f"a trader may be named once; named more than once: {', '.join(repeated)}")
    return BacktestSpec(start, end, tuple(names), model.strip() if model else None, seeds, label)


def create_backtest(
    engine: Engine, spec: BacktestSpec, *, flow_run_id: str | None = None, replay_of: int | None = None
) -> Backtest:
    """Record a new backtest (status ``running``); its books come from :func:`ensure_books`.

    ``replay_of``: the backtest whose recorded model calls answer this one's (a replay).
    """
    with engine.begin() as conn:
        backtest_id = conn.execute(
            insert(backtests)
            .values(
                label=spec.label,
                start_day=spec.start,
                end_day=spec.end,
                traders=list(spec.traders),
                model=spec.model,
                seeds=spec.seeds,
                flow_run_id=flow_run_id,
                replay_of=replay_of,
            )
            .returning(backtests.c.id)
        ).scalar_one()
    return find_backtest(engine, backtest_id)


def book_label(trader: dict, seeds: int) -> str:
    """A book's name in tables, legends and the pairwise matrix (``trader`` is its results' row):
    its trader, with the seed when each trader has several."""
    return trader["trader"] if seeds == 1 else f"{trader['trader']} (seed {trader['seed']})"


def limit_note(limit: float, spent: float) -> str:
    """The note of a backtest stopped because its model calls reached ``limit`` dollars."""
    return f"{LIMIT_REACHED} of ${limit:.2f}: ${spent:.4f} spent"


def backtest_profiles(backtest: Backtest, profiles: list[TraderProfile]) -> list[TraderProfile]:
    """The backtest's traders as configured, each with the backtest's model when it sets one."""
    chosen = [find_trader(profiles, name) for name in backtest.spec.traders]
    if backtest.spec.model:
        chosen = [replace(p, model=backtest.spec.model) for p in chosen]
    return chosen


def book_profile(backtest: Backtest, book: Book, profiles: list[TraderProfile]) -> TraderProfile:
    """The trader a book of ``backtest`` plays, with the backtest's model."""
    [profile] = [p for p in backtest_profiles(backtest, profiles) if p.name == book.trader]
    return profile


def ensure_books(engine: Engine, backtest: Backtest, profiles: list[TraderProfile]) -> list[Book]:
    """The backtest's books, one per (trader, seed) in spec order, each with its trader's account
    at $10,000; the ones missing (all, the first time) are made now."""
    have = {(b.trader, b.seed): b for b in list_books(engine, backtest.id)}
    books = []
    for profile in backtest_profiles(backtest, profiles):
        for seed in range(1, backtest.spec.seeds + 1):
            book = have.get((profile.name, seed))
            if book is None:
                label = f"backtest {backtest.id}: {profile.name}, seed {seed}"
                book = create_book(engine, label, backtest_id=backtest.id, trader=profile.name, seed=seed)
            ensure_accounts(book_engine(engine, book), [profile])
            books.append(book)
    return books


def find_backtest(engine: Engine, backtest_id: int) -> Backtest:
    with engine.connect() as conn:
        row = conn.execute(select(backtests).where(backtests.c.id == backtest_id)).one_or_none()
    if row is None:
        raise UnknownBacktest(f"no backtest {backtest_id}; `floor backtests` lists them")
    return _backtest(row)


def backtest_of_flow_run(engine: Engine, flow_run_id: str) -> Backtest | None:
    """The backtest a flow run started, if it started one (a retried run resumes it)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(backtests).where(backtests.c.flow_run_id == flow_run_id).order_by(backtests.c.id.desc())
        ).first()
    return None if row is None else _backtest(row)


def list_backtests(engine: Engine, *, results: bool = True) -> list[Backtest]:
    """Every backtest, newest first; with ``results=False`` their results are not read (None): what
    a list of backtests shows, without every one's curves."""
    columns = [c for c in backtests.c if results or c.name != "results"]
    if not results:
        columns.append(null().label("results"))
    with engine.connect() as conn:
        return [_backtest(row) for row in conn.execute(select(*columns).order_by(backtests.c.id.desc()))]


def set_status(
    engine: Engine,
    backtest_id: int,
    status: str,
    *,
    note: str | None = None,
    results: dict | None = None,
    flow_run_id: str | None = None,
) -> None:
    """Record where a backtest stands; a finished one (completed, stopped, failed) gets its end time."""
    values: dict = {"status": status, "note": note}
    values["finished_at"] = None if status == "running" else func.now()
    if results is not None:
        values["results"] = results
    if flow_run_id is not None:
        values["flow_run_id"] = flow_run_id
    with engine.begin() as conn:
        conn.execute(update(backtests).where(backtests.c.id == backtest_id).values(**values))


def delete_backtest(engine: Engine, backtest_id: int) -> Backtest:
    """Drop the backtest and every book it played; returns what was deleted. A backtest whose
    recording other backtests replay is kept until they are deleted (a ConfigurationError)."""
    backtest = find_backtest(engine, backtest_id)
    with engine.connect() as conn:
        replays = list(
            conn.execute(
                select(backtests.c.id).where(backtests.c.replay_of == backtest_id).order_by(backtests.c.id)
            ).scalars()
        )
    if replays:
        named = ", ".join(str(r) for r in replays)
        raise ConfigurationError(
            f"backtest {backtest_id} holds the recording replayed by backtest {named}: delete that first"
        )
    for book in list_books(engine, backtest_id):
        delete_book(engine, book.id)
    with engine.begin() as conn:
        conn.execute(backtests.delete().where(backtests.c.id == backtest_id))
    return backtest


def _backtest(row) -> Backtest:
    spec = BacktestSpec(
        start=row.start_day,
        end=row.end_day,
        traders=tuple(row.traders),
        model=row.model,
        seeds=row.seeds,
        label=row.label,
    )
    return Backtest(
        id=row.id,
        spec=spec,
        status=row.status,
        created_at=row.created_at,
        finished_at=row.finished_at,
        flow_run_id=row.flow_run_id,
        results=row.results,
        note=row.note,
        replay_of=row.replay_of,
    )
