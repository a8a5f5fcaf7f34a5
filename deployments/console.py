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


class BacktestBar:
    """``floor backtest``'s progress bar: sessions played of all, time left, dollars spent on models.

    Listens to the backtest's progress (``tasks.backtest.progress_listeners``) while the block runs;
    drawn by rich (which Prefect brings) on the terminal, and as plain lines where there is none.
    """

    def __init__(self, *, replaying: bool = False) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._spent = "of recorded calls, $0 spent" if replaying else "on models"

        self._bar = Progress(
            TextColumn("Backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("sessions"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[cost]}"),
        )
        self._task = None

    def __enter__(self) -> BacktestBar:
        from tasks.backtest import progress_listeners

        self._bar.start()
        progress_listeners.append(self._update)
        return self

    def __exit__(self, *exc: object) -> None:
        from tasks.backtest import progress_listeners

        progress_listeners.remove(self._update)
        self._bar.stop()

    def note(self, message: str) -> None:
        self._bar.console.print(message)

    def _update(self, progress) -> None:
        cost = f"${progress.cost:.4f} {self._spent}"
        if self._task is None:
            self._task = self._bar.add_task("backtest", total=progress.total, cost=cost)
        self._bar.update(self._task, completed=progress.done, total=progress.total, cost=cost)
