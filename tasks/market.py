"""Market tasks: the open gate, the cycle's one price fetch, storing the prices it uses, pruning."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prefect import get_run_logger

from floor.market.cache import prune_prices
from floor.market.calendar import MarketStatus, format_market_time, gate_status
from floor.market.feed import CyclePrices, PriceBatch, fetch_batch, use_batch, use_stale
from tasks import floor_task, runtime


@floor_task(name="check-market-open")
async def check_market_open() -> MarketStatus:
    """Whether the market counts as open now: Polygon's status with a key, else the NYSE calendar."""
    status = await asyncio.to_thread(
        gate_status, runtime.market(), datetime.now(UTC), runtime.settings().open_sessions
    )
    logger = get_run_logger()
    if status.note:
        logger.warning(status.note)
    verdict = "open" if status.open else f"closed; next open {format_market_time(status.next_open)}"
    logger.info("Market is %s (%s, from %s)", verdict, status.session, status.source)
    return status


# No task retries: the market client already retries 429, 5xx and timeouts with backoff, and a
# failure here falls back to cached prices instead of failing the cycle.
@floor_task(name="fetch-prices")
async def fetch_prices() -> PriceBatch:
    """One batch for the whole universe: the cache when current enough, else one upstream fetch."""
    market = runtime.market()
    batch = await asyncio.to_thread(
        fetch_batch, runtime.engine(), market, datetime.now(UTC), runtime.settings()
    )
    get_run_logger().info("Got %d prices from %s (%s)", len(batch.quotes), batch.source, batch.origin)
    return batch


@floor_task(name="cache-cycle-prices")
async def cache_cycle_prices(cycle_id: int, batch: PriceBatch | None, problem: str | None) -> CyclePrices:
    """Store the checked batch as the cycle's prices, or the last good ones marked stale."""
    engine = runtime.engine()
    if batch is not None:
        used = await asyncio.to_thread(use_batch, engine, batch, cycle_id, runtime.market().universe())
        get_run_logger().info("Cycle %d trades at %s", cycle_id, used.summary())
        return used
    used = await asyncio.to_thread(
        use_stale, engine, runtime.market(), datetime.now(UTC), cycle_id, problem or "the fetch failed"
    )
    get_run_logger().warning("Cycle %d trades at %s", cycle_id, used.summary())
    return used


@floor_task(name="prune-prices")
async def prune_old_prices() -> int:
    """Delete prices fetched outside a cycle more than PRICE_RETENTION_DAYS ago that nothing used."""
    before = datetime.now(UTC) - timedelta(days=runtime.settings().price_retention_days)
    removed = await asyncio.to_thread(prune_prices, runtime.engine(), before)
    get_run_logger().info(
        "Pruned %d prices fetched outside a cycle before %s", removed, f"{before:%Y-%m-%d %H:%M}"
    )
    return removed
