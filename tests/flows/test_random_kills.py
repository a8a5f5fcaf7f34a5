"""`floor run --force` killed with kill -9 at random points of its cycle, a few times over, then one
clean cycle: the killed cycles and turns are marked crashed, nothing stays running, no trade is
lost or duplicated, and every trader's books add up. The test prints its figure (pytest -s)."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import func, select

from floor.schema import activity_logs, cycles, transactions, turns
from tests.crashes import kill_hard, spawn, statuses, wait_for, wait_until_owner_gone
from tests.servers.test_accounts_server import assert_ledger_identity

pytestmark = pytest.mark.slow  # a few `floor run` processes and a full Prefect cycle

KILLS = 3
TRADERS = ("Warren", "George", "Ray", "Cathie")


def newest_cycle(engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(select(func.max(cycles.c.id))).scalar_one()


def entries_of(engine, cycle_id: int) -> int:
    """How far the cycle got: its activity log entries and trades so far."""
    with engine.connect() as conn:
        logged = conn.execute(
            select(func.count()).select_from(activity_logs).where(activity_logs.c.cycle_id == cycle_id)
        ).scalar_one()
        traded = conn.execute(
            select(func.count()).select_from(transactions).where(transactions.c.cycle_id == cycle_id)
        ).scalar_one()
    return logged + traded


def run_and_kill_at(engine, prefect_api: str, progress: int) -> tuple[int, bool]:
    """Start `floor run --force`, kill it once its cycle has ``progress`` entries; (cycle, killed)."""
    before = newest_cycle(engine)
    worker = spawn(["-m", "deployments.cli", "run", "--force"], {"PREFECT_API_URL": prefect_api})
    try:
        cycle_id = wait_for(
            lambda: (newest := newest_cycle(engine)) != before and newest,
            "the cycle opened",
            worker,
            timeout=180,
        )
        wait_for(
            lambda: worker.poll() is not None or entries_of(engine, cycle_id) >= progress,
            f"{progress} entries of cycle {cycle_id}",
            worker,
            timeout=300,  # a loaded CI machine; a cycle that ends sooner ends the wait
        )
    finally:
        killed = worker.poll() is None
        if killed:
            kill_hard(worker)
    return cycle_id, killed


def test_kills_at_random_points_then_a_clean_cycle_lose_and_duplicate_nothing(runtime, floor, prefect_api):
    from flows.trading_cycle import trading_cycle

    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    points = [rng.randint(0, 40) for _ in range(KILLS)]  # 0: while it prices, before any turn
    runs = [run_and_kill_at(floor, prefect_api, point) for point in points]
    for cycle_id, killed in runs:
        if killed:
            wait_until_owner_gone(floor, cycle_id)
    with floor.connect() as conn:
        kept = conn.execute(select(transactions.c.id)).scalars().all()

    result = asyncio.run(trading_cycle(force=True))  # a clean cycle, offline

    assert result["status"] == "completed"
    assert set(result["turns"].values()) == {"succeeded"}
    cycle_statuses, turn_statuses = statuses(floor)
    assert "running" not in [*cycle_statuses.values(), *turn_statuses.values()]
    for cycle_id, killed in runs:
        assert cycle_statuses[cycle_id] == ("crashed" if killed else "completed")
    with floor.connect() as conn:
        rows = conn.execute(select(transactions)).all()
        played = conn.execute(
            select(turns.c.cycle_id, turns.c.account_id, func.count())
            .where(turns.c.status == "succeeded")
            .group_by(turns.c.cycle_id, turns.c.account_id)
        ).all()
    assert set(kept) <= {r.id for r in rows}, "a trade of a killed cycle was lost"
    keys = [(r.account_id, r.idempotency_key) for r in rows]
    assert len(keys) == len(set(keys)), "an order key was used twice"
    assert all(n == 1 for *_, n in played), "a trader played twice in one cycle"
    for trader in TRADERS:
        assert_ledger_identity(floor, trader)
    crashed_turns = sum(status == "crashed" for status in turn_statuses.values())
    print(
        f"\nrandom kills (seed {seed}): `floor run --force` killed {sum(k for _, k in runs)} of {KILLS} "
        f"times, "
        f"at {points} log entries and trades into its cycle; {crashed_turns} turns marked crashed, "
        f"{len(kept)} trades kept; then a clean cycle: 0 lost, 0 duplicated, 0 running, books exact"
    )
