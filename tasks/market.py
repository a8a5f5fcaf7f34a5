"""Market tasks: the open gate and the one price fetch of a cycle."""

from __future__ import annotations

from datetime import UTC, datetime

from floor.market.calendar import MarketStatus, market_status
from prefect import get_run_logger, task

from floor.price_cache import store_quotes
from tasks import runtime


@task(name="check-market-open")
def check_market_open() -> MarketStatus:
    """Whether the NYSE is open now (holidays and half days included)."""
    status = market_status(datetime.now(UTC))
    get_run_logger().info("Market is %s", "open" if status.open else f"closed; next open {status.next_open}")
    return status


@task(name="fetch-prices", retries=3, retry_delay_seconds=[1, 5, 15], retry_condition_fn=runtime.is_transient)
def fetch_prices(cycle_id: int) -> int:
    """Fetch the whole universe once and cache it under the cycle; returns how many prices."""
    market = runtime.market()
    quotes = market.quotes(market.universe(), datetime.now(UTC))
    count = store_quotes(runtime.engine(), quotes.values(), cycle_id)
    get_run_logger().info("Cached %d prices from %s for cycle %d", count, market.name, cycle_id)
    return count
