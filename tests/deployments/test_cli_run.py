"""``floor run`` as a user reads it: a line per trader, a summary, and no traceback for a handled failure."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.openai_server import OpenAIServer, failure

pytestmark = pytest.mark.slow  # full Prefect cycles

ROOT = Path(__file__).parents[2]
FLOOR_RUN = [sys.executable, "-m", "deployments.cli", "run", "--force"]


@pytest.fixture
def rate_limited(tmp_path: Path, prefect_api, floor):
    """A trader, Broken, on a model whose provider answers 429 to every call."""
    with OpenAIServer() as llm:
        llm.script(*[failure(429, "rate limit reached for requests")] * 10, model="busy-model")
        traders = (ROOT / "floor" / "traders.toml").read_text()
        traders += '\n[[trader]]\nname = "Broken"\nlastname = "Provider"\nstyle = "value"\n'
        traders += 'model = "openai/busy-model"\nstrategy = "Buy anything."\n'
        (tmp_path / "traders.toml").write_text(traders)
        yield {
            **os.environ,
            "PREFECT_API_URL": prefect_api,
            "FLOOR_TRADERS_FILE": str(tmp_path / "traders.toml"),
            "FLOOR_MODEL": "offline",
            "OPENAI_API_KEY": "sk-test-not-a-real-key",
            "OPENAI_BASE_URL": llm.base_url,
            "MODEL_RETRIES": "1",
            "MODEL_RETRY_WAIT_SECONDS": "0.01",
        }


def test_a_rate_limited_trader_is_one_line_and_a_failed_subflow(rate_limited):
    done = subprocess.run(
        [*FLOOR_RUN, "--trader", "Broken"],
        env=rate_limited,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "RuntimeError" not in output
    assert " | INFO " not in output and " | ERROR " not in output  # Prefect's log: only with --verbose
    lines = done.stdout.splitlines()
    [broken] = [line for line in lines if line.startswith("Broken ")]
    assert broken.startswith("Broken failed: ") and "429" in broken
    assert lines[-1].startswith("Cycle ") and "0 of 1 turns succeeded (failed: Broken)" in lines[-1]
    assert len(lines) == 2
    assert done.stderr == ""

    # In the Prefect UI the turn is still a failed subflow, with the reason as its message.
    state = asyncio.run(turn_state("turn-Broken"))
    assert state.is_failed()
    assert state.message.startswith("Broken's turn failed: ") and "429" in state.message


def test_verbose_shows_prefects_log(rate_limited):
    done = subprocess.run(
        [*FLOOR_RUN, "--trader", "Broken", "--verbose"],
        env=rate_limited,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Finished in state Completed()" in done.stderr
    # A handled failure is a failed subflow with its reason, not an exception with a traceback.
    assert "Finished in state Failed(\"Broken's turn failed: " in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.startswith("Broken failed: ")


async def turn_state(name: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        [run] = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    return run.state
