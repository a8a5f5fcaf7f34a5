"""The leaderboard artifact a cycle leaves in the Prefect UI."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact

from floor.cycles import TurnOutcome
from floor.leaderboard import leaderboard_rows
from floor.valuation import Valuation


@task(name="publish-leaderboard")
def publish_leaderboard(cycle_id: int, valuations: list[Valuation], outcomes: dict[str, TurnOutcome]) -> None:
    create_table_artifact(
        key="leaderboard",
        table=leaderboard_rows(valuations, outcomes),
        description=f"Portfolio values after cycle {cycle_id}, best first",
    )
