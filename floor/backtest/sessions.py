"""One book played session by session: each session a cycle at that session's clock.

For session D the book gets a cycle of its own (``cycles.session = D``), the universe priced at
D's decision time (:class:`~floor.clock.SessionClock`: the opening bell) and stored as the
cycle's prices, then its trader's turn — the same :func:`~floor.agents.trader_turn.run_turn` a
live cycle plays, against the book's tables and tools that know nothing after D's open — then a
valuation at those prices, dated D. Completing the session stores the account as D left it
(``cycles.closing_state``) in the same transaction that marks it completed.

A book stopped or killed mid-session is :func:`rewind`-ed before it plays again: whatever the
unfinished session wrote goes (its recorded model calls too), the account is put back as the last
completed session left it, and play goes on from the next session. An offline backtest therefore
ends with the same ledger whether it ran straight through or was killed and resumed any number of
times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Engine, delete, func, insert, select, update

from floor.agents.model_calls import ModelCallLog
from floor.agents.tool_servers import TurnTools
from floor.agents.trader_turn import TurnRequest, run_turn
from floor.clock import SessionClock
from floor.market import MarketData
from floor.market.cache import store_cycle_prices
from floor.money import INITIAL_CASH
from floor.portfolio.valuation import value_cycle
from floor.runs.cycles import TurnOutcome
from floor.runs.leases import process_owner
from floor.schema import (
    accounts,
    activity_logs,
    cycles,
    model_calls,
    positions,
    prices,
    snapshots,
    tool_tokens,
    transactions,
    turns,
)
from floor.settings import Settings
from floor.traders import TraderProfile

# What an unfinished session may have written, each row tagged with its cycle.
_SESSION_TABLES = (transactions, snapshots, activity_logs, tool_tokens, turns, prices)
_ACCOUNT_STATE = ("cash", "strategy", "next_turn", "halted_at", "halt_reason", "peak_since")


@dataclass(frozen=True)
class PlayedSession:
    """What one session did."""

    day: date
    status: str  # the turn's: succeeded, failed or skipped
    cost: Decimal
    value: Decimal
    error: str | None = None


def finished_sessions(engine: Engine) -> list[date]:
    """The sessions the book has completed, in order."""
    query = (
        select(cycles.c.session)
        .where(cycles.c.status == "completed", cycles.c.session.is_not(None))
        .order_by(cycles.c.session)
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def rewind(engine: Engine, profiles: list[TraderProfile]) -> date | None:
    """Undo every session the book started and did not complete; returns the last completed one.

    The accounts go back to the state the last completed session stored (or to a fresh $10,000
    and their persona's strategy when none was completed), in one transaction.
    """
    with engine.begin() as conn:
        last = conn.execute(
            select(cycles.c.session, cycles.c.closing_state)
            .where(cycles.c.status == "completed", cycles.c.session.is_not(None))
            .order_by(cycles.c.session.desc())
            .limit(1)
        ).one_or_none()
        unfinished = select(cycles.c.id).where(cycles.c.status != "completed")
        if last is not None:
            unfinished = select(cycles.c.id).where(
                (cycles.c.status != "completed") | (cycles.c.session > last.session)
            )
        stale = list(conn.execute(unfinished).scalars())
        # The model calls of sessions not completed go too: playing such a session again records anew.
        conn.execute(
            delete(model_calls).where(model_calls.c.session > last.session)
            if last is not None
            else delete(model_calls)
        )
        if not stale:
            return None if last is None else last.session
        for table in _SESSION_TABLES:
            conn.execute(delete(table).where(table.c.cycle_id.in_(stale)))
        conn.execute(delete(cycles).where(cycles.c.id.in_(stale)))
        states = last.closing_state if last is not None else {}
        for profile in profiles:
            _restore(conn, profile, states.get(profile.name))
    return None if last is None else last.session


def _restore(conn, profile: TraderProfile, state: dict | None) -> None:
    account_id = conn.execute(select(accounts.c.id).where(accounts.c.name == profile.name)).scalar_one()
    if state is None:
        state = {
            "cash": str(INITIAL_CASH),
            "strategy": profile.strategy,
            "next_turn": "trade",
            "halted_at": None,
            "halt_reason": None,
            "peak_since": None,
            "positions": [],
        }
    values = {key: state[key] for key in _ACCOUNT_STATE}
    values["cash"] = Decimal(values["cash"])
    for key in ("halted_at", "peak_since"):
        values[key] = None if values[key] is None else datetime.fromisoformat(values[key])
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values, updated_at=func.now()))
    conn.execute(delete(positions).where(positions.c.account_id == account_id))
    if state["positions"]:
        conn.execute(
            insert(positions),
            [
                {"account_id": account_id, "symbol": symbol, "shares": shares, "cost": Decimal(cost)}
                for symbol, shares, cost in state["positions"]
            ],
        )


def _closing_state(conn) -> dict:
    """Every account of the book as it stands, in JSON (exact decimals as strings)."""
    held: dict[int, list] = {}
    for row in conn.execute(
        select(positions.c.account_id, positions.c.symbol, positions.c.shares, positions.c.cost).order_by(
            positions.c.account_id, positions.c.symbol
        )
    ):
        held.setdefault(row.account_id, []).append([row.symbol, row.shares, str(row.cost)])
    state = {}
    for row in conn.execute(select(accounts)):
        state[row.name] = {
            "cash": str(row.cash),
            "strategy": row.strategy,
            "next_turn": row.next_turn,
            "halted_at": row.halted_at.isoformat() if row.halted_at else None,
            "halt_reason": row.halt_reason,
            "peak_since": row.peak_since.isoformat() if row.peak_since else None,
            "positions": held.get(row.id, []),
        }
    return state


def play_session(
    engine: Engine,
    settings: Settings,
    profile: TraderProfile,
    market: MarketData,
    day: date,
    tools: TurnTools,
    *,
    seed: int | None = None,
    calls: ModelCallLog | None = None,
) -> PlayedSession:
    """Play session ``day`` in the book ``engine`` reads and writes (rewound first, by the caller).

    ``calls`` records the turn's provider calls, or answers them when the backtest is a replay
    (:mod:`floor.backtest.recordings`).
    """
    clock = SessionClock(day)
    at = clock.now()
    with engine.begin() as conn:
        cycle_id = conn.execute(
            insert(cycles)
            .values(forced=True, session=day, owner=process_owner(engine), started_at=at)
            .returning(cycles.c.id)
        ).scalar_one()
    universe = market.universe()
    store_cycle_prices(engine, market.quotes(universe, at).values(), cycle_id)
    request = TurnRequest(
        profile=profile,
        cycle_id=cycle_id,
        turn_key=f"session-{day.isoformat()}:{profile.name}",
        universe=universe,
        clock=clock,
        seed=seed,
        calls=calls,
    )
    outcome: TurnOutcome = run_turn(engine, settings, request, tools)
    if calls is not None:
        calls.close()
    [view] = [v for v in value_cycle(engine, market.name, cycle_id, taken_at=at) if v.trader == profile.name]
    with engine.begin() as conn:
        conn.execute(
            update(cycles)
            .where(cycles.c.id == cycle_id)
            .values(status="completed", finished_at=func.now(), closing_state=_closing_state(conn))
        )
    return PlayedSession(day, outcome.status, outcome.cost, view.value, outcome.error)


def play_book(
    engine: Engine,
    settings: Settings,
    profile: TraderProfile,
    market: MarketData,
    sessions: list[date],
    tools: TurnTools,
    *,
    seed: int | None = None,
    on_session: Callable[[PlayedSession], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[PlayedSession]:
    """Play ``sessions`` in order, after the last one the book completed; returns what was played.

    ``should_stop`` is asked before each session: a stop leaves the book at a completed session.
    """
    last = rewind(engine, [profile])
    played = []
    for day in sessions:
        if last is not None and day <= last:
            continue
        if should_stop is not None and should_stop():
            break
        done = play_session(engine, settings, profile, market, day, tools, seed=seed)
        played.append(done)
        if on_session is not None:
            on_session(done)
    return played
