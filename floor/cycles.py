"""Records of trading cycles and of each trader's turn in them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, func, insert, select, update

from floor.accounts import get_account
from floor.schema import cycles, turns


def start_cycle(engine: Engine, *, forced: bool, flow_run_id: str | None) -> int:
    with engine.begin() as conn:
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


def cycle_turns(engine: Engine, cycle_id: int) -> list[dict]:
    from floor.schema import accounts

    query = (
        select(accounts.c.name, turns)
        .join(accounts, accounts.c.id == turns.c.account_id)
        .where(turns.c.cycle_id == cycle_id)
        .order_by(turns.c.id)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
