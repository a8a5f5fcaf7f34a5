"""A backtest's recorded model calls: kept in each book, answered from in a replay, read for estimates.

Every provider call a book's turn makes is a row of the book's ``model_calls`` table, numbered
within its session (:class:`SessionRecording`). A replay is a new backtest of the same span,
traders, model and seeds whose books answer every call from the recorded book of the same trader
and seed (:class:`SessionReplay`): the same request at the same place gets the recorded answer,
and anything else stops the replay with what differs. No provider is asked.

The recordings also say what a session of a model costs, which :func:`estimate_cost` turns into the
estimate of a backtest before it starts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, MetaData, func, insert, select, union_all

from floor.agents.model_calls import RecordedCall, ReplayMismatch, first_difference
from floor.backtest.records import Backtest, BacktestSpec, create_backtest, find_backtest
from floor.books import Book, book_engine, list_books
from floor.errors import ConfigurationError
from floor.schema import model_calls
from floor.traders import TraderProfile, find_trader


class SessionRecording:
    """Records one session's provider calls in the book ``engine`` reads and writes."""

    replaying = False

    def __init__(self, engine: Engine, session: date) -> None:
        self._engine, self._session = engine, session
        self._next = 0
        self._lock = threading.Lock()  # a turn's researcher may call beside its trader

    def answer(self, request: dict[str, Any], digest: str) -> RecordedCall | None:
        return None

    def record(self, request: dict[str, Any], digest: str, model: str, call: RecordedCall) -> None:
        response = {"message": call.message} if call.error is None else {"error": call.error}
        with self._lock:
            seq, self._next = self._next, self._next + 1
        with self._engine.begin() as conn:
            conn.execute(
                insert(model_calls).values(
                    session=self._session,
                    seq=seq,
                    model=model,
                    request_hash=digest,
                    request=request,
                    response=response,
                    input_tokens=call.input_tokens,
                    output_tokens=call.output_tokens,
                    cost=call.cost,
                    latency_ms=call.latency_ms,
                )
            )

    def close(self) -> None:
        pass


class SessionReplay:
    """Answers one session's calls from the recording of ``source`` (the recorded book's engine)."""

    replaying = True

    def __init__(self, source: Engine, session: date, where: str) -> None:
        self._session, self._where = session, where
        with source.connect() as conn:
            self._rows = conn.execute(
                select(model_calls).where(model_calls.c.session == session).order_by(model_calls.c.seq)
            ).all()
        self._next = 0
        self._lock = threading.Lock()

    def answer(self, request: dict[str, Any], digest: str) -> RecordedCall:
        with self._lock:
            seq, self._next = self._next, self._next + 1
        place = f"{self._where}, session {self._session}, call {seq + 1}"
        if seq >= len(self._rows):
            raise ReplayMismatch(
                f"{place}: the recording holds {len(self._rows)} calls for this session; "
                "the replay asked for one more"
            )
        row = self._rows[seq]
        if row.request_hash != digest:
            difference = first_difference(row.request, request) or "the request differs"
            raise ReplayMismatch(f"{place} is not the recorded request: {difference}")
        message, error = row.response.get("message"), row.response.get("error")
        return RecordedCall(
            message, error, row.input_tokens, row.output_tokens, Decimal(row.cost), row.latency_ms
        )

    def record(self, request: dict[str, Any], digest: str, model: str, call: RecordedCall) -> None:
        raise ReplayMismatch(f"{self._where}: a replay never calls a provider")

    def close(self) -> None:
        if self._next < len(self._rows):
            raise ReplayMismatch(
                f"{self._where}, session {self._session}: the turn ended after {self._next} of the "
                f"{len(self._rows)} recorded calls"
            )


class BookCalls:
    """Makes each session's call log for one book: recording it, or replaying ``source``."""

    def __init__(self, engine: Engine, source: Engine | None, where: str) -> None:
        self._engine, self._source, self._where = engine, source, where

    def session(self, day: date) -> SessionRecording | SessionReplay:
        if self._source is None:
            return SessionRecording(self._engine, day)
        return SessionReplay(self._source, day, self._where)


def recording_of(engine: Engine, replay_of: int) -> Backtest:
    """The backtest holding the recording a replay of ``replay_of`` answers from (a replay's own
    source, when ``replay_of`` is itself a replay); a ConfigurationError if it cannot be replayed:
    no books, or not completed (a recording covers only the sessions played)."""
    source = find_backtest(engine, replay_of)
    if source.replay_of is not None:
        source = find_backtest(engine, source.replay_of)
    if not list_books(engine, source.id):
        raise ConfigurationError(f"backtest {source.id} has no books to replay")
    if source.status != "completed":
        raise ConfigurationError(
            f"backtest {source.id} is {source.status}: its recording stops where it did; "
            f"`floor backtest resume {source.id}` completes it, then it can be replayed"
        )
    return source


def start_replay(
    engine: Engine, replay_of: int, *, label: str = "", flow_run_id: str | None = None
) -> Backtest:
    """A new backtest replaying ``replay_of``'s recording: its span, traders, model and seeds."""
    source = recording_of(engine, replay_of)
    spec = replace(source.spec, label=label or f"replay of backtest {source.id}")
    return create_backtest(engine, spec, flow_run_id=flow_run_id, replay_of=source.id)


def book_calls(engine: Engine, backtest: Backtest, book: Book) -> BookCalls:
    """The call logs of ``book``: its own recording, or (a replay) the recorded book of the same
    trader and seed."""
    where = f"{book.trader}, seed {book.seed}"
    if backtest.replay_of is None:
        return BookCalls(book_engine(engine, book), None, where)
    recorded = {(b.trader, b.seed): b for b in list_books(engine, backtest.replay_of)}
    source = recorded.get((book.trader, book.seed))
    if source is None:
        raise ConfigurationError(f"backtest {backtest.replay_of} recorded no book for {where}")
    return BookCalls(book_engine(engine, book), book_engine(engine, source), where)


@dataclass(frozen=True)
class SessionUsage:
    """Book-sessions recorded, and the tokens and dollars their calls took."""

    sessions: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)

    def __add__(self, other: SessionUsage) -> SessionUsage:
        return SessionUsage(
            self.sessions + other.sessions,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cost + other.cost,
        )


@dataclass(frozen=True)
class CostEstimate:
    """What a backtest's model calls should cost: recorded token counts a session, at each model's price."""

    dollars: Decimal | None  # None: some model has no recording to go by, or no price
    per_session: dict[str, Decimal]  # model -> estimated dollars a book-session
    basis: dict[str, str]  # model -> what its estimate goes by, in words
    unknown: tuple[str, ...]  # models with nothing to go by (why, in ``basis``)


def recorded_usage(engine: Engine) -> dict[str, SessionUsage]:
    """Per model: the book-sessions every backtest's recordings hold, their tokens and cost (one
    query over every book's table)."""
    per_book = []
    for book in list_books(engine):
        if book.backtest_id is None:
            continue
        table = model_calls.to_metadata(MetaData(), schema=book.schema)
        per_book.append(
            select(
                table.c.model,
                func.count(func.distinct(table.c.session)),
                func.sum(table.c.input_tokens),
                func.sum(table.c.output_tokens),
                func.sum(table.c.cost),
            ).group_by(table.c.model)
        )
    if not per_book:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(union_all(*per_book)).all()
    found: dict[str, SessionUsage] = {}
    for model, sessions, tokens_in, tokens_out, cost in rows:
        found[model] = found.get(model, SessionUsage()) + SessionUsage(
            sessions, tokens_in, tokens_out, Decimal(cost)
        )
    return found


def estimate_cost(engine: Engine, models: list[str], sessions: int) -> CostEstimate:
    """The model cost of ``sessions`` sessions for each entry of ``models`` (one per book).

    A model's tokens a session are those its recorded sessions took; a model never recorded goes
    by every recorded session of the other models (the prompt, the tools and the account summary
    are the floor's, whatever the model), priced at its own rates (litellm's price map). The
    offline rules cost nothing.
    """
    from floor.agents.models import trained_on_text

    usage = recorded_usage(engine)
    pooled = sum(usage.values(), SessionUsage())
    per_session: dict[str, Decimal] = {}
    basis: dict[str, str] = {}
    for model in dict.fromkeys(m for m in models if trained_on_text(m)):
        price, basis[model] = _session_price(model, usage.get(model), pooled)
        if price is not None:
            per_session[model] = price
    unknown = tuple(model for model in basis if model not in per_session)
    total = sum((per_session[m] * sessions for m in models if m in per_session), Decimal(0))
    return CostEstimate(None if unknown else total.quantize(Decimal("0.0001")), per_session, basis, unknown)


def _session_price(model: str, own: SessionUsage | None, pooled: SessionUsage) -> tuple[Decimal | None, str]:
    """A book-session's dollars for ``model`` and what the figure goes by (or why there is none)."""
    from floor.agents.costs import call_cost

    by = own if own is not None and own.sessions else pooled
    if not by.sessions:
        return None, "not recorded yet"
    price = call_cost(model, round(by.input_tokens / by.sessions), round(by.output_tokens / by.sessions))
    if price is None:
        return None, "litellm has no price for it"
    whose = f"{by.sessions} recorded sessions" + ("" if by is own else " of other models")
    return price, f"${price:.6f} a book-session, by the tokens of {whose}"


def estimate_backtest(engine: Engine, spec: BacktestSpec, profiles: list[TraderProfile]) -> CostEstimate:
    """The estimate of ``spec``'s model cost: every book's model over every session of the span."""
    from floor.market.calendar import sessions_between

    chosen = [find_trader(profiles, name) for name in spec.traders]
    models = [spec.model or p.model for p in chosen for _ in range(spec.seeds)]
    return estimate_cost(engine, models, len(sessions_between(spec.start, spec.end)))


def check_limit(estimate: CostEstimate, max_dollars: float | Decimal | None) -> None:
    """A ConfigurationError when the estimate alone passes the ``max_dollars`` limit."""
    limit = None if max_dollars is None else Decimal(str(max_dollars))
    if limit is not None and estimate.dollars is not None and estimate.dollars > limit:
        raise ConfigurationError(
            f"the estimated model cost ${estimate.dollars:.4f} is over the --max-dollars limit "
            f"${limit:.2f}: raise the limit or shorten the span"
        )


def describe_estimate(estimate: CostEstimate) -> str:
    """The estimate in a line a user reads before a backtest starts."""
    if not estimate.basis:
        return "Model cost: $0 (offline rules only)"
    parts = "; ".join(f"{model} {why}" for model, why in estimate.basis.items())
    total = "unknown" if estimate.dollars is None else f"about ${estimate.dollars:.4f}"
    return f"Estimated model cost: {total} ({parts})"
