"""Tasks that open and close a cycle's record and keep accounts in line with configuration."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger
from prefect.runtime import flow_run

from floor.ledger.accounts import ensure_accounts
from floor.runs import cycles
from floor.traders import TraderProfile, load_traders
from tasks import floor_task, runtime


@floor_task(name="open-cycle")
async def open_cycle(forced: bool) -> int:
    """Record the start of a cycle, linked to this flow run; returns the cycle id."""
    run_id = str(flow_run.get_id() or "")
    return await asyncio.to_thread(cycles.start_cycle, runtime.engine(), forced=forced, flow_run_id=run_id)


@floor_task(name="mark-crashed-runs")
async def mark_crashed_runs() -> cycles.EndedRuns:
    """Mark cycles and turns left running by a process that is gone (killed, crashed) as crashed."""
    crashed = await asyncio.to_thread(cycles.mark_crashed, runtime.engine())
    if crashed.cycles or crashed.turns:
        get_run_logger().warning(
            "Marked crashed: cycles %s, turns %s (their process ended before they finished)",
            crashed.cycles or "none",
            crashed.turns or "none",
        )
    return crashed


def end_crashed_run(flow, run, state) -> None:
    """Prefect's ``on_crashed`` and ``on_cancellation`` hook: the run's unfinished cycle and turns crashed."""
    note = f"the flow run ended {state.name}: {state.message}"
    cycles.end_flow_run(runtime.engine(), str(run.id), "crashed", note)


def end_failed_run(flow, run, state) -> None:
    """Prefect's ``on_failure`` hook: a cycle the flow could not close itself ends as failed."""
    cycles.end_flow_run(runtime.engine(), str(run.id), "failed", f"the flow run failed: {state.message}")


@floor_task(name="close-cycle")
async def close_cycle(cycle_id: int, status: str, note: str | None = None) -> None:
    await asyncio.to_thread(cycles.finish_cycle, runtime.engine(), cycle_id, status, note)


@floor_task(name="collect-turn-outcomes")
async def collect_turn_outcomes(cycle_id: int, failures: dict[str, str]) -> dict[str, cycles.TurnOutcome]:
    """Each trader's recorded turn; a subflow that died before recording counts as failed."""
    recorded = await asyncio.to_thread(cycles.turn_outcomes, runtime.engine(), cycle_id)
    outcomes = {}
    for name, reason in failures.items():
        outcome = recorded.get(name)
        if outcome is None or outcome.status == "running":
            outcome = cycles.TurnOutcome(status="failed", error=reason or "the turn ended without a record")
        outcomes[name] = outcome
    return outcomes


@floor_task(name="load-traders")
async def load_floor_traders(names: list[str] | None = None) -> list[TraderProfile]:
    """The configured traders (only ``names`` if given), with an account each."""
    from floor.traders import find_trader

    traders = load_traders(runtime.settings())
    if names:
        traders = [find_trader(traders, name) for name in names]
    await asyncio.to_thread(ensure_accounts, runtime.engine(), traders)
    return traders
