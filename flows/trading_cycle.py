"""One trading cycle: gate -> prices -> every trader's turn at once -> valuation -> quality."""

import asyncio

from prefect import flow, get_run_logger

from floor.agents.trader_turn import TurnRequest
from floor.cycles import TurnOutcome
from floor.traders import find_trader, load_traders
from tasks import runtime
from tasks.bookkeeping import close_cycle, collect_turn_outcomes, load_floor_traders, open_cycle
from tasks.market import check_market_open, fetch_prices
from tasks.quality import check_data_quality
from tasks.reporting import publish_leaderboard
from tasks.traders import play_turn
from tasks.valuation import value_portfolios


@flow(name="trader-turn", flow_run_name="turn-{trader}")
async def trader_turn(trader: str, cycle_id: int, universe: list[str]) -> TurnOutcome:
    """One trader's turn as a subflow of its own; a failed turn fails this subflow only.

    Parameters are plain values, so the Prefect UI shows them and a retry needs nothing else.
    """
    profile = find_trader(load_traders(runtime.settings()), trader)
    request = TurnRequest(
        profile=profile, cycle_id=cycle_id, turn_key=f"cycle-{cycle_id}:{profile.name}", universe=universe
    )
    outcome = await play_turn(request)
    if outcome.status == "failed":
        raise RuntimeError(f"{profile.name}'s turn failed: {outcome.error}")
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


@flow(name="trading-cycle")
async def trading_cycle(force: bool = False, traders: list[str] | None = None) -> dict:
    """Run one cycle of the floor.

    Args:
        force: Trade even if the NYSE is closed (also on with RUN_EVEN_WHEN_MARKET_IS_CLOSED).
        traders: Only these traders (by name); default every configured trader.
    """
    logger = get_run_logger()
    forced = force or runtime.settings().run_even_when_market_is_closed
    status = check_market_open()
    if not status.open and not forced:
        logger.info(
            "Market closed; cycle skipped (next open %s). Use --force to trade anyway.", status.next_open
        )
        return {"status": "skipped", "reason": f"market closed; next open {status.next_open}"}

    profiles = load_floor_traders(traders)
    cycle_id = open_cycle(forced)
    fetch_prices(cycle_id)
    universe = runtime.market().universe()
    ended = await run_turns([p.name for p in profiles], cycle_id, universe)
    outcomes = collect_turn_outcomes(cycle_id, ended)
    valuations = value_portfolios(cycle_id)
    publish_leaderboard(cycle_id, valuations, outcomes)
    failed = sorted(name for name, o in outcomes.items() if o.status == "failed")
    try:
        check_data_quality(cycle_id)
    except Exception:
        close_cycle(cycle_id, "failed", "data-quality checks failed")
        raise
    note = f"failed turns: {', '.join(failed)}" if failed else None
    close_cycle(cycle_id, "completed", note)
    return {
        "status": "completed",
        "cycle_id": cycle_id,
        "turns": {name: o.status for name, o in outcomes.items()},
        "failed": failed,
    }
