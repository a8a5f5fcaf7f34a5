"""An LLM turn whose process is killed (``kill -9``) between two model calls: what the first call
cost is on record at once, the turn is marked crashed, and the trader's daily budget counts it."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from floor.runs.cycles import GONE, mark_crashed, spent_since, start_of_day
from floor.schema import turns
from tests.crashes import kill_hard, spawn, wait_for
from tests.fakes.openai_server import final_answer, tool_call
from tests.floor.agents.test_llm_turn import KEY, llm_settings, play

pytestmark = pytest.mark.slow  # a process of its own that imports the agent stack

FIRST_CALL = Decimal("0.000153")  # 900 in / 30 out tokens of gpt-4o-mini

# One turn on the real path (litellm -> the scripted server, smolagents -> the tool service).
PLAYS_A_TURN = """
from floor.database import create_floor_engine
from floor.settings import Settings
from tests.floor.agents.test_llm_turn import play

settings = Settings(_env_file=None)
play(create_floor_engine(settings.database_url), settings, flow_run_id="killed-run")
"""


def test_a_killed_turns_spend_counts_against_the_budget(floor, database_url, llm):
    released = threading.Event()

    def hang(request):  # the second call never comes back while the turn's process lives
        released.wait(120)
        return final_answer("too late")

    llm.script(tool_call("lookup_share_price", {"symbol": "AAPL"}, usage=(900, 30)), hang)
    env = {
        "DATABASE_URL": database_url,
        "FLOOR_MODEL": "openai/gpt-4o-mini",
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": llm.base_url,
        "MODEL_RETRIES": "0",
    }
    worker = spawn(["-c", PLAYS_A_TURN], env)
    try:
        wait_for(lambda: len(llm.requests) >= 2, "the turn's second model call", worker)
        with floor.connect() as conn:
            running = conn.execute(select(turns)).one()
        assert (running.status, running.input_tokens, running.output_tokens) == ("running", 900, 30)
        assert running.cost == FIRST_CALL  # written as the call came back, not at the turn's end
        kill_hard(worker)
    finally:
        released.set()
        if worker.poll() is None:
            worker.kill()

    assert spent_since(floor, "Warren", start_of_day()) == FIRST_CALL
    assert wait_for(lambda: mark_crashed(floor).turns, "the killed turn marked crashed") == [running.id]
    with floor.connect() as conn:
        crashed = conn.execute(select(turns)).one()
    assert (crashed.status, crashed.error, crashed.cost) == ("crashed", GONE, FIRST_CALL)

    # Retrying after the crash cannot pass the budget: the killed turn's dollars count.
    outcome = play(
        floor, llm_settings(database_url, llm, daily_budget_dollars=FIRST_CALL), flow_run_id="retry"
    )
    assert outcome.status == "skipped" and "stopped by the budget" in outcome.error
    assert len(llm.requests) == 2  # no call was made
