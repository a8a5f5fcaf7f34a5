"""The leaderboard artifact a cycle leaves in the Prefect UI."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from prefect.artifacts import acreate_table_artifact

from floor.portfolio.leaderboard import leaderboard_rows
from floor.portfolio.read_model import AccountView
from floor.portfolio.value_history import ValueHistoryCache
from floor.runs.cycles import TurnOutcome
from tasks import floor_task, runtime


@floor_task(name="publish-leaderboard")
async def publish_leaderboard(
    cycle_id: int, views: list[AccountView], outcomes: dict[str, TurnOutcome]
) -> None:
    """The table of every trader after the cycle, with each one's daily Sharpe and its 95% interval."""
    cost = sum((o.cost for o in outcomes.values()), Decimal(0))
    tokens = sum(o.input_tokens + o.output_tokens for o in outcomes.values())
    histories, _ = await asyncio.to_thread(ValueHistoryCache().read, runtime.engine())
    rows = await asyncio.to_thread(leaderboard_rows, views, outcomes, histories)
    await acreate_table_artifact(
        key="leaderboard",
        table=rows,
        description=(
            f"Portfolio values after cycle {cycle_id}, best first; Sharpe annualised from the last value "
            f"of each day, with its 95% interval (sharpe_low, sharpe_high). "
            f"Models: {tokens:,} tokens, ${cost:.6f} this cycle."
        ),
    )
