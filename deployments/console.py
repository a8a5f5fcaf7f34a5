"""What ``floor`` prints for people: a line per trader's turn, a cycle's summary, short log lines."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from floor.runs.cycles import TurnOutcome

# `floor logs` cuts a longer message to this many characters unless --full.
LOG_LINE_LIMIT = 300


class TurnLines(logging.Handler):
    """Prints one line per trader as its turn ends, from the cycle's ``floor.turns`` records."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.printed: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        trader, outcome = getattr(record, "trader", None), getattr(record, "outcome", None)
        if trader is None or outcome is None:
            return
        self.printed.add(trader)
        print(turn_line(trader, outcome), flush=True)


def turn_line(trader: str, outcome: TurnOutcome) -> str:
    """One trader's turn in a line: what happened and, for a model that was paid, what it cost."""
    if outcome.status == "succeeded":
        line = f"{trader} succeeded in {outcome.steps} steps"
        if outcome.input_tokens or outcome.output_tokens:
            line += (
                f" ({outcome.input_tokens:,} in / {outcome.output_tokens:,} out tokens, ${outcome.cost:.4f})"
            )
        if outcome.appraisal:
            line += f": {_one_line(outcome.appraisal, 160)}"
        return line
    reason = outcome.error or outcome.appraisal or "no reason recorded"
    return f"{trader} {outcome.status}: {_one_line(reason, 200)}"


def cycle_summary(result: dict) -> str:
    turns = result["turns"]
    succeeded = sum(status == "succeeded" for status in turns.values())
    line = f"Cycle {result['cycle_id']} completed: {succeeded} of {len(turns)} turns succeeded"
    if result["failed"]:
        line += f" (failed: {', '.join(result['failed'])})"
    return line + f"; models ${result.get('cost', 0):.4f}"


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def shorten(message: str, limit: int = LOG_LINE_LIMIT) -> str:
    """``message`` cut to ``limit`` characters, saying how much more ``--full`` would show."""
    if len(message) <= limit:
        return message
    return f"{message[:limit]}… ({len(message) - limit:,} more characters; --full)"
