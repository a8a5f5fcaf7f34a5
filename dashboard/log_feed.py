"""The live activity log: how log lines look, and the cursor that says which lines were shown.

Log ids come from one sequence, but a transaction that took a lower id can commit after one that
took a higher id. The cursor therefore remembers ids it skipped over for a short while and asks
for them again, so a line committed a moment late still appears.
"""

from __future__ import annotations

from dash import html

from floor.portfolio_views import LogLine

MAX_LINES = 200  # per trader, in the page
GAP_TTL_SECONDS = 10.0  # after this a missing id is taken as a rolled-back insert
MAX_GAPS = 500


def new_cursor(last_id: int) -> dict:
    """The cursor right after showing every line up to ``last_id``."""
    return {"last": int(last_id), "gaps": {}, "counts": {}}


def advance(cursor: dict, seen_ids: list[int], now: float) -> dict:
    """The cursor after showing ``seen_ids`` (ascending) at time ``now`` (epoch seconds)."""
    last = int(cursor["last"])
    gaps = {int(k): t for k, t in cursor.get("gaps", {}).items()}
    for id_ in seen_ids:
        gaps.pop(id_, None)
    for id_ in seen_ids:
        if id_ > last:
            for missing in range(last + 1, id_):
                gaps[missing] = now
            last = id_
    fresh = {k: t for k, t in gaps.items() if now - t < GAP_TTL_SECONDS}
    newest = sorted(fresh, reverse=True)[:MAX_GAPS]
    return {
        "last": last,
        "gaps": {str(k): fresh[k] for k in newest},
        "counts": dict(cursor.get("counts", {})),
    }


def pending_gaps(cursor: dict) -> list[int]:
    return sorted(int(k) for k in cursor.get("gaps", {}))


def log_line(line: LogLine) -> html.Div:
    """One line, coloured by its type (trace, agent, function, generation, response, account)."""
    return html.Div(
        f"{line.created_at:%H:%M:%S} [{line.type}] {line.message}", className=f"log-line log-{line.type}"
    )
