"""Valuing every portfolio at the cycle's prices."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from prefect import get_run_logger

from floor.portfolio.read_model import AccountView
from floor.portfolio.valuation import value_cycle
from tasks import floor_task, runtime


@floor_task(name="value-portfolios")
async def value_portfolios(cycle_id: int) -> list[AccountView]:
    """One snapshot per trader: cash, positions at the cycle's prices, value and P&L.

    A position the cycle has no price for is valued at cost and flagged; the run log says which.
    """
    views = await asyncio.to_thread(
        value_cycle, runtime.engine(), runtime.market().name, cycle_id, datetime.now(UTC)
    )
    for view in views:
        if view.unpriced:
            get_run_logger().warning(
                "%s: no cycle price for %s; valued at cost", view.trader, ", ".join(view.unpriced)
            )
    return views
