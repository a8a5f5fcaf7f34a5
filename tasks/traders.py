"""The task that plays one trader's turn."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger

from floor.agents.trader_turn import TurnRequest, run_turn
from floor.runs.cycles import TurnOutcome
from tasks import floor_task, runtime


@floor_task(name="play-turn", task_run_name="play-turn-{request.profile.name}")
async def play_turn(request: TurnRequest) -> TurnOutcome:
    """Run the trader's agent in a worker thread, so several traders play at once."""
    outcome = await asyncio.to_thread(
        lambda: run_turn(runtime.engine(), runtime.settings(), request, runtime.tool_service())
    )
    logger = get_run_logger()
    logger.info(
        "%s: %s after %d steps, %d in / %d out tokens, $%.6f",
        request.profile.name,
        outcome.status,
        outcome.steps,
        outcome.input_tokens,
        outcome.output_tokens,
        outcome.cost,
    )
    if outcome.error:
        logger.warning("%s: %s", request.profile.name, outcome.error)
    return outcome
