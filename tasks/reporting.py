"""The leaderboard artifact a cycle leaves in the Prefect UI."""

from __future__ import annotations

from decimal import Decimal

from prefect.artifacts import acreate_table_artifact

from floor.portfolio.leaderboard import leaderboard_rows
from floor.portfolio.read_model import AccountView
from floor.runs.cycles import TurnOutcome
from tasks import floor_task


@floor_task(name="publish-leaderboard")
async def publish_leaderboard(
    cycle_id: int, views: list[AccountView], outcomes: dict[str, TurnOutcome]
) -> None:
    cost = sum((o.cost for o in outcomes.values()), Decimal(0))
    tokens = sum(o.input_tokens + o.output_tokens for o in outcomes.values())
    await acreate_table_artifact(
        key="leaderboard",
        table=leaderboard_rows(views, outcomes),
        description=(
            f"Portfolio values after cycle {cycle_id}, best first. "
            f"Models: {tokens:,} tokens, ${cost:.6f} this cycle."
        ),
    )
