"""Records of trading cycles and of each trader's turn in them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import Engine, func, insert, select, update

from floor.ledger.accounts import get_account
from floor.runs.leases import owner_gone, process_owner
from floor.schema import accounts, activity_logs, cycles, turns

# A cycle or turn is `running` while its process works on it; `crashed` when that process went
# away before finishing it (see floor.runs.leases), or its flow run crashed.
CycleStatus = Literal["running", "completed", "failed", "crashed"]
TurnStatus = Literal["running", "succeeded", "failed", "skipped", "crashed"]

GONE = "the process running it ended before it finished (killed, crashed or lost its machine)"


def start_cycle(engine: Engine, *, forced: bool, flow_run_id: str | None) -> int:
    """Open a cycle record, or reopen the one of ``flow_run_id`` when that run is retried.

    Reusing the cycle keeps its order keys, so a retried run replays orders it already placed
    instead of trading twice. The record is owned by this process's lease until it is finished.
    """
    owner = process_owner(engine)
    with engine.begin() as conn:
        if flow_run_id:
            existing = conn.execute(
                select(cycles.c.id).where(cycles.c.flow_run_id == flow_run_id).with_for_update()
            ).scalar_one_or_none()
            if existing is not None:
                conn.execute(
                    update(cycles)
                    .where(cycles.c.id == existing)
                    .values(status="running", finished_at=None, note=None, owner=owner)
                )
                return existing
        return conn.execute(
            insert(cycles).values(forced=forced, flow_run_id=flow_run_id, owner=owner).returning(cycles.c.id)
        ).scalar_one()


def finish_cycle(engine: Engine, cycle_id: int, status: CycleStatus, note: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(cycles)
            .where(cycles.c.id == cycle_id)
            .values(status=status, note=note, finished_at=func.now())
        )


def start_turn(engine: Engine, cycle_id: int | None, trader: str, kind: str, model: str) -> int:
    """Record the start of a turn, owned by this process's lease until it is finished."""
    owner = process_owner(engine)
    with engine.begin() as conn:
        account = get_account(conn, trader)
        return conn.execute(
            insert(turns)
            .values(cycle_id=cycle_id, account_id=account.id, kind=kind, model=model, owner=owner)
            .returning(turns.c.id)
        ).scalar_one()


def add_turn_usage(
    engine: Engine, turn_id: int, input_tokens: int, output_tokens: int, cost: Decimal
) -> None:
    """Add one model call's tokens and dollars to its turn, as the call completes.

    Written call by call, not at the end, so the daily budget counts a turn that never ends.
    A call that used and cost nothing (the offline models) changes nothing and writes nothing.
    """
    if not (input_tokens or output_tokens or cost):
        return
    with engine.begin() as conn:
        conn.execute(
            update(turns)
            .where(turns.c.id == turn_id)
            .values(
                input_tokens=turns.c.input_tokens + input_tokens,
                output_tokens=turns.c.output_tokens + output_tokens,
                cost=turns.c.cost + cost,
            )
        )


@dataclass(frozen=True)
class EndedRuns:
    """What :func:`mark_crashed` or :func:`end_flow_run` marked: cycle ids and turn ids."""

    cycles: list[int] = field(default_factory=list)
    turns: list[int] = field(default_factory=list)


def mark_crashed(engine: Engine) -> EndedRuns:
    """Mark every running cycle and turn whose process is gone as crashed.

    Run as each cycle starts: cycles and turns of live processes, on this machine or any other,
    are left alone, however long they take. Each crashed turn says so in its trader's log.
    """
    with engine.begin() as conn:
        return _end_running(conn, owner_gone(cycles.c.owner), owner_gone(turns.c.owner), "crashed", GONE)


def end_flow_run(engine: Engine, flow_run_id: str, status: CycleStatus, note: str) -> EndedRuns:
    """End the cycle of ``flow_run_id`` and its turns with ``status``, those still running.

    For the orchestrator's hooks: a flow run that crashed, or failed past the cycle's own handling.
    """
    with engine.begin() as conn:
        of_run = select(cycles.c.id).where(cycles.c.flow_run_id == flow_run_id)
        return _end_running(
            conn, cycles.c.flow_run_id == flow_run_id, turns.c.cycle_id.in_(of_run), status, note
        )


def _end_running(conn, which_cycles, which_turns, status: str, note: str) -> EndedRuns:
    now = func.now()
    ended_cycles = conn.execute(
        update(cycles)
        .where(cycles.c.status == "running", which_cycles)
        .values(status=status, note=note, finished_at=now)
        .returning(cycles.c.id)
    ).scalars()
    ended_turns = conn.execute(
        update(turns)
        .where(turns.c.status == "running", which_turns)
        .values(status=status, error=note, finished_at=now)
        .returning(turns.c.id, turns.c.account_id, turns.c.cycle_id)
    ).all()
    if ended_turns:
        conn.execute(
            insert(activity_logs),
            [
                {
                    "account_id": t.account_id,
                    "type": "trace",
                    "message": f"Turn {status}: {note}",
                    "cycle_id": t.cycle_id,
                }
                for t in ended_turns
            ],
        )
    return EndedRuns(sorted(ended_cycles), sorted(t.id for t in ended_turns))


@dataclass(frozen=True)
class TurnOutcome:
    status: TurnStatus
    appraisal: str | None = None
    error: str | None = None
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal("0")


def finish_turn(engine: Engine, turn_id: int, outcome: TurnOutcome) -> None:
    """Record how a turn ended; its tokens and dollars are already there (:func:`add_turn_usage`)."""
    with engine.begin() as conn:
        conn.execute(
            update(turns)
            .where(turns.c.id == turn_id)
            .values(
                status=outcome.status,
                appraisal=outcome.appraisal,
                error=outcome.error,
                steps=outcome.steps,
                finished_at=func.now(),
            )
        )


def _outcome(row) -> TurnOutcome:
    return TurnOutcome(
        status=row.status,
        appraisal=row.appraisal,
        error=row.error,
        steps=row.steps,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost=row.cost,
    )


def finished_turn(engine: Engine, cycle_id: int | None, trader: str) -> TurnOutcome | None:
    """The outcome of the trader's turn in this cycle if it already succeeded (a retried run)."""
    if cycle_id is None:
        return None
    outcome = turn_outcomes(engine, cycle_id).get(trader)
    return outcome if outcome is not None and outcome.status == "succeeded" else None


def turn_outcomes(engine: Engine, cycle_id: int) -> dict[str, TurnOutcome]:
    """The latest recorded outcome of each trader's turn in a cycle, by trader name.

    The database, not the orchestrator's result store, is the record of what a turn did.
    """
    query = (
        select(accounts.c.name, turns)
        .join(accounts, accounts.c.id == turns.c.account_id)
        .where(turns.c.cycle_id == cycle_id)
        .order_by(turns.c.id)
    )
    with engine.connect() as conn:
        return {row.name: _outcome(row) for row in conn.execute(query)}


def spent_since(engine: Engine, trader: str, since: datetime) -> Decimal:
    """Dollars the trader's turns started since ``since`` spent on models (finished or not)."""
    query = (
        select(func.coalesce(func.sum(turns.c.cost), 0))
        .join(accounts, accounts.c.id == turns.c.account_id)
        .where(accounts.c.name == trader, turns.c.started_at >= since)
    )
    with engine.connect() as conn:
        return Decimal(conn.execute(query).scalar_one())


def start_of_day(now: datetime | None = None) -> datetime:
    """Midnight UTC of ``now``'s day: daily budgets reset then."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class TurnRecord:
    """One turn as ``floor report`` and the dashboard show it."""

    id: int
    cycle_id: int | None
    trader: str
    kind: str
    model: str
    status: TurnStatus
    steps: int
    input_tokens: int
    output_tokens: int
    cost: Decimal
    error: str | None
    started_at: datetime


def recent_turns(engine: Engine, trader: str | None = None, *, last: int = 10) -> list[TurnRecord]:
    """The newest ``last`` turns (of ``trader``, or of everyone), oldest first."""
    query = (
        select(accounts.c.name, turns)
        .join(accounts, accounts.c.id == turns.c.account_id)
        .order_by(turns.c.id.desc())
        .limit(last)
    )
    if trader is not None:
        query = query.where(accounts.c.name == trader)
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    return [
        TurnRecord(
            r.id,
            r.cycle_id,
            r.name,
            r.kind,
            r.model,
            r.status,
            r.steps,
            r.input_tokens,
            r.output_tokens,
            r.cost,
            r.error,
            r.started_at,
        )
        for r in reversed(rows)
    ]


@dataclass(frozen=True)
class Usage:
    """Turns, tokens and dollars summed over some turns."""

    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)

    def as_json(self) -> dict:
        return {
            "turns": self.turns,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": float(self.cost),
        }


def usage_by_trader(
    engine: Engine, *, cycle_id: int | None = None, since: datetime | None = None
) -> dict[str, Usage]:
    """Model usage per trader: over every turn, one cycle's, or those started since ``since``."""
    query = (
        select(
            accounts.c.name,
            func.count(turns.c.id),
            func.coalesce(func.sum(turns.c.input_tokens), 0),
            func.coalesce(func.sum(turns.c.output_tokens), 0),
            func.coalesce(func.sum(turns.c.cost), 0),
        )
        .join(accounts, accounts.c.id == turns.c.account_id)
        .group_by(accounts.c.name)
    )
    if cycle_id is not None:
        query = query.where(turns.c.cycle_id == cycle_id)
    if since is not None:
        query = query.where(turns.c.started_at >= since)
    with engine.connect() as conn:
        return {
            name: Usage(count, int(tokens_in), int(tokens_out), Decimal(cost))
            for name, count, tokens_in, tokens_out, cost in conn.execute(query)
        }
