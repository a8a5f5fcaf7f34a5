"""Valuing every portfolio at the cycle's prices."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from floor.price_cache import cycle_quotes, price_map
from floor.valuation import Valuation, record_snapshots, value_accounts
from tasks import floor_task, runtime


@floor_task(name="value-portfolios")
async def value_portfolios(cycle_id: int) -> list[Valuation]:
    """One snapshot per trader: cash, positions at the cycle's prices, value and P&L."""
    return await asyncio.to_thread(_value, runtime.engine(), cycle_id)


def _value(engine, cycle_id: int) -> list[Valuation]:
    valuations = value_accounts(engine, price_map(cycle_quotes(engine, cycle_id)))
    record_snapshots(engine, valuations, cycle_id=cycle_id, taken_at=datetime.now(UTC))
    return valuations
