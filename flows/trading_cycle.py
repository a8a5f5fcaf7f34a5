"""One trading cycle: gate -> prices -> every trader's turn at once -> valuation -> quality.

Each run first marks crashed what killed runs left running; a run that crashes itself marks its
own cycle crashed (Prefect's crash hook). After valuation, the leaderboard, the data-quality checks
and the pruning of old out-of-cycle prices run at once.
"""

import asyncio
import logging

from prefect import flow, get_run_logger
from prefect.states import Failed, State

from floor.agents.trader_turn import TurnRequest
from floor.market.calendar import format_market_time
from floor.runs.cycles import TurnOutcome
from floor.traders import find_trader, load_traders
from tasks import runtime
from tasks.bookkeeping import (
    close_cycle,
    collect_turn_outcomes,
    end_crashed_run,
    end_failed_run,
    load_floor_traders,
    mark_crashed_runs,
    open_cycle,
)
from tasks.market import cache_cycle_prices, check_market_open, fetch_prices, prune_old_prices
from tasks.quality import check_data_quality, check_price_batch
from tasks.reporting import publish_leaderboard
from tasks.traders import play_turn
from tasks.valuation import value_portfolios

# Each turn's outcome as it ends, with the trader and the TurnOutcome on the record: `floor run`
# prints one line per trader from here while Prefect's own log stays quiet.
turn_log = logging.getLogger("floor.turns")


@flow(name="trader-turn", flow_run_name="turn-{trader}")
async def trader_turn(trader: str, cycle_id: int, universe: list[str]) -> TurnOutcome | State:
    """One trader's turn as a subflow of its own; a failed turn fails this subflow only.

    Parameters are plain values, so the Prefect UI shows them and a retry needs nothing else.
    A handled failure (the turn is recorded as failed, say a rate-limited model) returns a Failed
    state with the reason: the UI shows the failed subflow and its message, and no traceback is
    logged for a failure that is not a bug.
    """
    profile = find_trader(load_traders(runtime.settings()), trader)
    request = TurnRequest(
        profile=profile, cycle_id=cycle_id, turn_key=f"cycle-{cycle_id}:{profile.name}", universe=universe
    )
    outcome = await play_turn(request)
    turn_log.info("%s %s", profile.name, outcome.status, extra={"trader": profile.name, "outcome": outcome})
    if outcome.status == "failed":
        return Failed(message=f"{profile.name}'s turn failed: {outcome.error}")
    return outcome


async def run_turns(names: list[str], cycle_id: int, universe: list[str]) -> dict[str, str]:
    """Every trader's subflow, at most MAX_CONCURRENT_TURNS at once; returns why any failed.

    Starting a subflow talks to the Prefect API, which can fail under load (a busy SQLite
    server answers 503): that fails this trader's turn, never the cycle.
    """
    gate = asyncio.Semaphore(runtime.settings().max_concurrent_turns)

    async def bounded(name: str):
        async with gate:
            return await trader_turn(name, cycle_id, universe, return_state=True)

    results = await asyncio.gather(*(bounded(name) for name in names), return_exceptions=True)
    ended = {}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, BaseException):
            ended[name] = f"the turn could not start: {type(result).__name__}: {result}"
        else:
            ended[name] = "" if result.is_completed() else str(result.message or result.name)
    return ended


async def price_cycle(cycle_id: int):
    """Fetch (or reuse) one batch, check it, and store it, or the last good prices marked stale.

    A fetch or a check that fails shows as a failed task run; the cycle goes on at stale prices,
    and only with no price at all does it fail, saying why.
    """
    fetched = await fetch_prices(return_state=True)
    batch, problem = None, None
    if fetched.is_completed():
        batch = await fetched.aresult()
        checked = await check_price_batch(batch, return_state=True)
        if not checked.is_completed():
            batch, problem = None, str(await checked.aresult(raise_on_failure=False))
    else:
        problem = str(await fetched.aresult(raise_on_failure=False))
    return await cache_cycle_prices(cycle_id, batch, problem)


@flow(
    name="trading-cycle",
    on_crashed=[end_crashed_run],
    on_cancellation=[end_crashed_run],
    on_failure=[end_failed_run],
)
async def trading_cycle(force: bool = False, traders: list[str] | None = None) -> dict:
    """Run one cycle of the floor.

    Args:
        force: Trade even if the NYSE is closed (also on with RUN_EVEN_WHEN_MARKET_IS_CLOSED).
        traders: Only these traders (by name); default every configured trader.
    """
    logger = get_run_logger()
    runtime.settle()
    await mark_crashed_runs()
    forced = force or runtime.settings().run_even_when_market_is_closed
    status = await check_market_open()
    if not status.open and not forced:
        next_open = format_market_time(status.next_open)
        logger.info("Market closed; cycle skipped (next open %s). Use --force to trade anyway.", next_open)
        reason = f"market closed; next open {next_open}"
        if status.note:
            reason += f" ({status.note})"
        return {"status": "skipped", "reason": reason}

    profiles = await load_floor_traders(traders)
    cycle_id = await open_cycle(forced)
    try:
        prices = await price_cycle(cycle_id)
    except Exception as exc:
        await close_cycle(cycle_id, "failed", f"no prices: {exc}")
        raise
    logger.info("Trading at %s", prices.summary())
    universe = runtime.market().universe()
    ended = await run_turns([p.name for p in profiles], cycle_id, universe)
    outcomes = await collect_turn_outcomes(cycle_id, ended)
    views = await value_portfolios(cycle_id)
    failed = sorted(name for name, o in outcomes.items() if o.status == "failed")
    # These three only read what valuation wrote (pruning touches no cycle's prices): side by side.
    board, quality, _ = await asyncio.gather(
        publish_leaderboard(cycle_id, views, outcomes, return_state=True),
        check_data_quality(cycle_id, return_state=True),
        prune_old_prices(return_state=True),  # housekeeping: a failure shows, and never fails the cycle
    )
    if not quality.is_completed():
        await close_cycle(cycle_id, "failed", "data-quality checks failed")
        await quality.aresult()  # raises the checks' own error: the run fails with it
    await board.aresult()  # a leaderboard that could not be published fails the run
    note = f"failed turns: {', '.join(failed)}" if failed else None
    await close_cycle(cycle_id, "completed", note)
    return {
        "status": "completed",
        "cycle_id": cycle_id,
        "turns": {name: o.status for name, o in outcomes.items()},
        "failed": failed,
        "cost": float(sum(o.cost for o in outcomes.values())),
    }
