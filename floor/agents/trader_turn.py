"""One trader's turn: a smolagents ToolCallingAgent acting through the floor's MCP servers.

The servers run as child processes on stdio, bound to this trader and this turn; the agent's
model is whatever :func:`floor.agents.models.build_model` picks. Every step lands in the
activity log. A failure ends this trader's turn with a recorded reason and never raises into
the cycle.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine

from floor import accounts
from floor.activity import write_log
from floor.agents.models import build_model
from floor.agents.prompts import instructions, turn_message
from floor.cycles import TurnOutcome, finish_turn, finished_turn, start_turn
from floor.errors import ConfigurationError
from floor.settings import Settings
from floor.traders import TraderProfile

MCP_SESSION_TIMEOUT_SECONDS = 60.0  # a float: smolagents silently ignores an int here
SERVER_KINDS = ("accounts", "market")


@dataclass(frozen=True)
class TurnRequest:
    """Everything a turn needs to know about where it runs."""

    profile: TraderProfile
    cycle_id: int | None
    turn_key: str
    universe: list[str]


def server_parameters(request: TurnRequest, database_url: str) -> list:
    """Stdio launch parameters of the trader's MCP servers, bound to this trader and turn."""
    from mcp import StdioServerParameters

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLOOR_TURN_KEY": request.turn_key,
        "FLOOR_CYCLE_ID": "" if request.cycle_id is None else str(request.cycle_id),
    }
    return [
        StdioServerParameters(
            command=sys.executable, args=["-m", "servers", kind, "--trader", request.profile.name], env=env
        )
        for kind in SERVER_KINDS
    ]


class StepLogger:
    """A smolagents step callback that writes each step to the trader's activity log."""

    def __init__(self, engine: Engine, trader: str, cycle_id: int | None) -> None:
        self.engine, self.trader, self.cycle_id = engine, trader, cycle_id
        self.steps = 0

    def _log(self, type_: str, message: str) -> None:
        write_log(self.engine, self.trader, type_, message, cycle_id=self.cycle_id)

    def __call__(self, step, agent=None) -> None:
        from smolagents.memory import ActionStep, FinalAnswerStep

        if isinstance(step, FinalAnswerStep):
            self._log("response", str(step.output))
            return
        if not isinstance(step, ActionStep):
            return
        self.steps += 1
        usage = step.token_usage
        tokens = f" [{usage.input_tokens} in / {usage.output_tokens} out]" if usage else ""
        if step.model_output:
            text = step.model_output if isinstance(step.model_output, str) else json.dumps(step.model_output)
            self._log("generation", f"Step {step.step_number}: {text.strip()}{tokens}")
        for call in step.tool_calls or []:
            if call.name == "final_answer":
                continue
            self._log("function", f"{call.name}({json.dumps(call.arguments, default=str)})")
        if step.error is not None:
            self._log("agent", f"Step {step.step_number} error: {step.error.message}")
        elif step.observations and not step.is_final_answer:
            # Tool results arrive pretty-printed; one line each keeps the log readable.
            self._log("agent", f"Step {step.step_number} observed: {' '.join(step.observations.split())}")


def run_turn(engine: Engine, settings: Settings, request: TurnRequest, database_url: str) -> TurnOutcome:
    """Play one turn for ``request.profile``; returns the outcome it also records."""
    profile = request.profile
    done = finished_turn(engine, request.cycle_id, profile.name)
    if done is not None:  # a retried cycle: this trader already played, don't trade again
        return done
    kind = accounts.next_turn_kind(engine, profile.name)
    turn_id = start_turn(engine, request.cycle_id, profile.name, kind, profile.model)
    write_log(
        engine, profile.name, "trace", f"Turn started: {kind} with {profile.model}", cycle_id=request.cycle_id
    )
    try:
        outcome = _play(engine, settings, request, kind, database_url)
    except ConfigurationError as exc:
        outcome = TurnOutcome(status="skipped", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one trader's failure must never stop the others
        outcome = TurnOutcome(status="failed", error=f"{type(exc).__name__}: {exc}")
    finish_turn(engine, turn_id, outcome)
    if outcome.status == "succeeded":
        accounts.finish_turn_kind(engine, profile.name, kind)
    summary = f"Turn {outcome.status} after {outcome.steps} steps"
    if outcome.error:
        summary += f": {outcome.error}"
    write_log(engine, profile.name, "trace", summary, cycle_id=request.cycle_id)
    return outcome


def _play(
    engine: Engine, settings: Settings, request: TurnRequest, kind: str, database_url: str
) -> TurnOutcome:
    from smolagents import LogLevel, MCPClient, ToolCallingAgent
    from smolagents.memory import ActionStep, FinalAnswerStep

    profile = request.profile
    model = build_model(profile, settings)
    with engine.connect() as conn:
        strategy = accounts.get_account(conn, profile.name).strategy
    step_logger = StepLogger(engine, profile.name, request.cycle_id)
    with MCPClient(
        server_parameters(request, database_url),
        adapter_kwargs={"client_session_timeout_seconds": MCP_SESSION_TIMEOUT_SECONDS},
        structured_output=False,
    ) as tools:
        agent = ToolCallingAgent(
            tools=tools,
            model=model,
            instructions=instructions(profile, strategy, request.universe),
            max_steps=settings.max_agent_steps,
            step_callbacks={ActionStep: step_logger, FinalAnswerStep: step_logger},
            verbosity_level=LogLevel.OFF,
        )
        result = agent.run(turn_message(kind, profile, datetime.now(UTC)), return_full_result=True)
    usage = result.token_usage
    if result.state != "success":
        return TurnOutcome(
            status="failed",
            error=f"the agent stopped without an answer ({result.state})",
            steps=step_logger.steps,
        )
    return TurnOutcome(
        status="succeeded",
        appraisal=str(result.output),
        steps=step_logger.steps,
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cost=Decimal("0"),
    )
