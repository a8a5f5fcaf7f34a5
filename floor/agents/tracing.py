"""Every step of any smolagents agent written to a trader's activity log, with tokens and cost.

:class:`StepTracer` is a step callback for ``ToolCallingAgent`` / ``CodeAgent``: the trader's agent
and the researcher it manages each get one (``label`` tells them apart in the log). It writes the
step's type, the model's output, each tool called with its arguments, what came back or went
wrong, and the step's tokens and dollars; secrets are masked first. After ``max_errors``
consecutive failed steps (malformed tool calls, tools that keep failing) it stops the agent.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine

from floor.agents.costs import call_cost
from floor.agents.redaction import Redactor
from floor.runs.activity import write_logs


class StepTracer:
    """A smolagents step callback that writes each step to the trader's activity log.

    Args:
        engine: The floor's database.
        trader: Whose log it is.
        cycle_id: The cycle the turn belongs to, if any.
        redact: Masks secrets before anything is written.
        label: Prefix of every entry ("" for the trader's own agent, e.g. "researcher").
        max_errors: Consecutive failed steps after which the agent is interrupted.
        held: Keep the entries until :meth:`flush` instead of writing each step as it ends (a
            backtest's turn: nobody watches its log live, and one write per turn is cheaper).
    """

    def __init__(
        self,
        engine: Engine,
        trader: str,
        cycle_id: int | None,
        *,
        redact: Redactor | None = None,
        label: str = "",
        max_errors: int | None = None,
        held: bool = False,
    ) -> None:
        self.engine, self.trader, self.cycle_id = engine, trader, cycle_id
        self._held: list[tuple[str, str]] | None = [] if held else None
        self.redact = redact or Redactor(())
        self.prefix = f"[{label}] " if label else ""
        self.max_errors = max_errors
        self.steps = 0
        self.consecutive_errors = 0
        self.last_error: str | None = None
        self.interrupted = False

    def log(self, type_: str, message: str) -> None:
        """Write one entry (masked, prefixed) to the trader's log."""
        self._write([(type_, message)])

    def _write(self, entries: list[tuple[str, str]]) -> None:
        masked = [(type_, self.redact(self.prefix + message)) for type_, message in entries]
        if self._held is not None:
            self._held.extend(masked)
            return
        write_logs(self.engine, self.trader, masked, cycle_id=self.cycle_id)

    def flush(self) -> None:
        """Write the entries held so far, in order, in one statement (nothing when not held)."""
        if self._held:
            write_logs(self.engine, self.trader, self._held, cycle_id=self.cycle_id)
            self._held.clear()

    def __call__(self, step: Any, agent: Any = None) -> None:
        """Write the step's entries, in order, in one statement (a step is a handful of lines)."""
        from smolagents.memory import ActionStep, FinalAnswerStep, PlanningStep

        entries: list[tuple[str, str]] = []
        if isinstance(step, FinalAnswerStep):
            entries.append(("response", f"Final answer: {step.output}"))
        elif isinstance(step, PlanningStep):
            entries.append(("generation", f"Plan: {step.plan.strip()}{self._usage(step, agent)}"))
        elif isinstance(step, ActionStep):
            entries = self._action(step, agent)
        self._write(entries)
        if self.interrupted and agent is not None:
            agent.interrupt()

    def _action(self, step: Any, agent: Any) -> list[tuple[str, str]]:
        self.steps += 1
        number = step.step_number
        output = step.model_output
        if output and not isinstance(output, str):
            output = json.dumps(output, default=str)
        calls = [c for c in step.tool_calls or [] if c.name != "final_answer"]
        said = (output or "").strip() or ("(tool calls only)" if step.tool_calls else "(no output)")
        entries = [("generation", f"Step {number} [action]: {said}{self._usage(step, agent)}")]
        for call in calls:
            arguments = json.dumps(call.arguments, default=str)
            entries.append(("function", f"Step {number} [tool call] {call.name}({arguments})"))
        if step.error is not None:
            self.consecutive_errors += 1
            self.last_error = step.error.message
            entries.append(("agent", f"Step {number} [error] {step.error.message}"))
            if self.max_errors and self.consecutive_errors >= self.max_errors and agent is not None:
                self.interrupted = True
                entries.append(("agent", f"Stopping after {self.consecutive_errors} failed steps in a row"))
            return entries
        self.consecutive_errors = 0
        if step.observations and not step.is_final_answer:
            # Tool results arrive pretty-printed; one line each keeps the log readable.
            entries.append(("agent", f"Step {number} [observation] {' '.join(step.observations.split())}"))
        return entries

    def _usage(self, step: Any, agent: Any) -> str:
        usage = step.token_usage
        if usage is None:
            return ""
        model_id = getattr(getattr(agent, "model", None), "model_id", "") or ""
        cost = call_cost(model_id, usage.input_tokens, usage.output_tokens) if model_id else None
        price = f", ${cost:.6f}" if cost is not None else ""
        return f" [{usage.input_tokens} in / {usage.output_tokens} out tokens{price}]"
