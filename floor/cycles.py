"""Records of trading cycles and of each trader's turn in them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, func, insert, select, update

from floor.accounts import get_account
from floor.schema import accounts, cycles, turns


def start_cycle(engine: Engine, *, forced: bool, flow_run_id: str | None) -> int:
    """Open a cycle record, or reopen the one of ``flow_run_id`` when that run is retried.

    Reusing the cycle keeps its order keys, so a retried run replays orders it already placed
    instead of trading twice.
    """
    with engine.begin() as conn:
        if flow_run_id:
            existing = conn.execute(
                select(cycles.c.id).where(cycles.c.flow_run_id == flow_run_id).with_for_update()
            ).scalar_one_or_none()
            if existing is not None:
                conn.execute(
                    update(cycles).where(cycles.c.id == existing).values(status="running", finished_at=None)
                )
                return existing
        return conn.execute(
            insert(cycles).values(forced=forced, flow_run_id=flow_run_id).returning(cycles.c.id)
        ).scalar_one()


def finish_cycle(engine: Engine, cycle_id: int, status: str, note: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(cycles)
            .where(cycles.c.id == cycle_id)
            .values(status=status, note=note, finished_at=func.now())
        )


def start_turn(engine: Engine, cycle_id: int | None, trader: str, kind: str, model: str) -> int:
    with engine.begin() as conn:
        account = get_account(conn, trader)
        return conn.execute(
            insert(turns)
            .values(cycle_id=cycle_id, account_id=account.id, kind=kind, model=model)
            .returning(turns.c.id)
        ).scalar_one()


@dataclass(frozen=True)
class TurnOutcome:
    status: str  # succeeded | failed | skipped
    appraisal: str | None = None
    error: str | None = None
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal("0")


def finish_turn(engine: Engine, turn_id: int, outcome: TurnOutcome) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(turns)
            .where(turns.c.id == turn_id)
            .values(
                status=outcome.status,
                appraisal=outcome.appraisal,
                error=outcome.error,
                steps=outcome.steps,
                input_tokens=outcome.input_tokens,
                output_tokens=outcome.output_tokens,
                cost=outcome.cost,
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
    status: str
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
