"""`floor run` killed in the middle of a trader's turn: nothing stays `running` for good. A kill
-9 leaves the cycle and turn to the next cycle, which marks them crashed; a SIGTERM lets Prefect's
crash hook mark them itself."""

from __future__ import annotations

import asyncio
import signal
import threading

import pytest
from sqlalchemy import select

from floor.runs.cycles import GONE
from floor.schema import cycles, turns
from tests.crashes import kill_hard, spawn, statuses, wait_for, wait_until_owner_gone
from tests.fakes.openai_server import OpenAIServer, final_answer

pytestmark = pytest.mark.slow  # full Prefect cycles in processes of their own

KEY = "sk-crashed-cycles-0123456789"


def start_a_cycle_that_hangs_in_a_turn(prefect_api: str, llm: OpenAIServer, engine, released):
    """`floor run` for Warren on an LLM whose first answer never comes; returns once it waits."""

    def hang(request):
        released.wait(120)
        return final_answer("too late")

    llm.script(hang)
    env = {
        "PREFECT_API_URL": prefect_api,
        "FLOOR_MODEL": "openai/gpt-4o-mini",
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": llm.base_url,
        "MODEL_RETRIES": "0",
    }
    worker = spawn(["-m", "deployments.cli", "run", "--force", "--trader", "Warren"], env)
    wait_for(lambda: llm.requests, "the turn's first model call", worker, timeout=180)
    cycle_ids, turn_ids = statuses(engine)
    assert (list(cycle_ids.values()), list(turn_ids.values())) == (["running"], ["running"])
    return worker, next(iter(cycle_ids)), next(iter(turn_ids))


def test_a_cycle_killed_mid_turn_is_marked_crashed_by_the_next_cycle(runtime, floor, prefect_api):
    from flows.trading_cycle import trading_cycle

    released = threading.Event()
    with OpenAIServer() as llm:
        worker, killed_cycle, killed_turn = start_a_cycle_that_hangs_in_a_turn(
            prefect_api, llm, floor, released
        )
        try:
            kill_hard(worker)
        finally:
            released.set()
    assert statuses(floor) == ({killed_cycle: "running"}, {killed_turn: "running"})  # nobody said otherwise
    wait_until_owner_gone(floor, killed_cycle)

    result = asyncio.run(trading_cycle(force=True, traders=["Warren"]))  # a clean cycle, offline

    assert result["status"] == "completed" and result["turns"] == {"Warren": "succeeded"}
    cycle_statuses, turn_statuses = statuses(floor)
    assert "running" not in [*cycle_statuses.values(), *turn_statuses.values()]
    assert (cycle_statuses[killed_cycle], turn_statuses[killed_turn]) == ("crashed", "crashed")
    assert cycle_statuses[result["cycle_id"]] == "completed"
    with floor.connect() as conn:
        note = conn.execute(select(cycles.c.note).where(cycles.c.id == killed_cycle)).scalar_one()
    assert note == GONE


def test_a_cycle_stopped_by_sigterm_is_marked_crashed_by_its_own_crash_hook(floor, prefect_api):
    released = threading.Event()
    with OpenAIServer() as llm:
        worker, cycle_id, turn_id = start_a_cycle_that_hangs_in_a_turn(prefect_api, llm, floor, released)
        try:
            worker.send_signal(signal.SIGTERM)
            wait_for(lambda: statuses(floor)[0][cycle_id] == "crashed", "the crash hook's mark", timeout=60)
        finally:
            if worker.poll() is None:
                kill_hard(worker)  # its turn's thread may still wait on the model
            released.set()
    assert statuses(floor) == ({cycle_id: "crashed"}, {turn_id: "crashed"})
    with floor.connect() as conn:
        note = conn.execute(select(cycles.c.note).where(cycles.c.id == cycle_id)).scalar_one()
        error = conn.execute(select(turns.c.error).where(turns.c.id == turn_id)).scalar_one()
    assert note.startswith("the flow run ended Crashed") and error == note
