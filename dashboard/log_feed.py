"""The live activity feed: how feed lines look, and the cursor that says which log lines were shown.

Feed lines (one per agent step, see :mod:`floor.runs.activity_feed`) stand for one or more log lines;
the cursor counts log ids, the per-column counts count feed lines.

Log ids come from one sequence, but a transaction that took a lower id can commit after one that
took a higher id. The cursor therefore remembers ids it skipped over for a short while and asks
for them again, so a line committed a moment late still appears.

The cursor lives in the browser, so whatever comes back is untrusted: :func:`clamp_cursor` bounds
every id to the ids that exist, every count to the lines a column can hold, and the gaps to
:data:`MAX_GAPS`, so a crafted poll costs no more than an ordinary one.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

from dash import html

from floor.runs.activity_feed import FeedLine

MAX_LINES = 200  # per trader, in the page
GAP_TTL_SECONDS = 10.0  # after this a missing id is taken as a rolled-back insert
MAX_GAPS = 500
MAX_PAGE_ID = 32
HOLD_SECONDS = 5.0  # how long a trade's effect waits for its step's line (well under GAP_TTL_SECONDS)


def new_cursor(last_id: int, page: str = "") -> dict:
    """The cursor right after showing every line up to ``last_id`` (``page``: which page it is)."""
    return {"last": int(last_id), "gaps": {}, "counts": {}, "page": page}


def _page(value: object) -> str:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_PAGE_ID and value.isalnum() else ""


def _whole(value: object) -> int | None:
    """``value`` as an int if it is one (or a string of one); None otherwise, bools included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and 0 < len(value) <= 20:
        try:
            return int(value)
        except ValueError:
            return None
    return None


def clamp_cursor(cursor: object, newest_id: int, columns: list[str], now: float) -> dict:
    """A cursor from the browser made safe: ``last`` within 0..``newest_id`` (a cursor that makes no
    sense starts at ``newest_id``), gaps only below ``last`` and at most :data:`MAX_GAPS` of them,
    gap times no later than ``now``, and counts only for ``columns``, each within 0..MAX_LINES.
    """
    if not isinstance(cursor, dict):
        return new_cursor(newest_id)
    last = _whole(cursor.get("last"))
    last = newest_id if last is None else min(max(last, 0), newest_id)
    gaps: dict[int, float] = {}
    raw_gaps = cursor.get("gaps")
    if isinstance(raw_gaps, dict):
        for key, seen_at in list(raw_gaps.items())[: 4 * MAX_GAPS]:
            id_ = _whole(key)
            if id_ is None or not 0 < id_ < last or isinstance(seen_at, bool):
                continue
            if isinstance(seen_at, int | float) and math.isfinite(seen_at):
                gaps[id_] = min(float(seen_at), now)
    newest = sorted(gaps, reverse=True)[:MAX_GAPS]
    counts: dict[str, int] = {}
    raw_counts = cursor.get("counts")
    if isinstance(raw_counts, dict):
        for name in columns:
            count = _whole(raw_counts.get(name))
            if count is not None:
                counts[name] = min(max(count, 0), MAX_LINES)
    return {
        "last": last,
        "gaps": {str(k): gaps[k] for k in newest},
        "counts": counts,
        "page": _page(cursor.get("page")),
    }


def advance(cursor: dict, seen_ids: list[int], now: float) -> dict:
    """The cursor after showing ``seen_ids`` (ascending) at time ``now`` (epoch seconds)."""
    last = int(cursor["last"])
    gaps = {int(k): t for k, t in cursor.get("gaps", {}).items()}
    for id_ in seen_ids:
        gaps.pop(id_, None)
    for id_ in seen_ids:
        if id_ > last:
            # Only the MAX_GAPS ids right below a seen id can be among the newest MAX_GAPS gaps
            # kept below, so a jump of millions of ids costs no more than one of MAX_GAPS.
            for missing in range(max(last + 1, id_ - MAX_GAPS), id_):
                gaps[missing] = now
            last = id_
    fresh = {k: t for k, t in gaps.items() if now - t < GAP_TTL_SECONDS}
    newest = sorted(fresh, reverse=True)[:MAX_GAPS]
    return {
        "last": last,
        "gaps": {str(k): fresh[k] for k in newest},
        "counts": dict(cursor.get("counts", {})),
        "page": cursor.get("page", ""),
    }


def pending_gaps(cursor: dict) -> list[int]:
    return sorted(int(k) for k in cursor.get("gaps", {}))


def feed_line(line: FeedLine) -> html.Div | html.Details:
    """One feed line, coloured by its type; the full entries (tool output) one click away."""
    stamp = html.Span(f"{line.created_at:%H:%M:%S} ", className="log-time")
    classes = f"log-line log-{line.type}"
    if not line.detail:
        return html.Div([stamp, line.text], className=classes)
    return html.Details(
        [html.Summary([stamp, line.text]), html.Pre(line.detail, className="log-detail")], className=classes
    )


class Delivered:
    """Which log ids each open page was sent lately, so a poll sent with a cursor the page had not
    updated yet (two polls in flight at once) never adds a line twice.

    Bounded: ids older than :data:`GAP_TTL_SECONDS` twice over are forgotten, and at most
    ``pages`` pages are remembered (the least recently polling go first). Safe between threads.
    """

    def __init__(self, pages: int = 256) -> None:
        self._pages: OrderedDict[str, dict[int, float]] = OrderedDict()
        self._limit = pages
        self._lock = threading.Lock()

    def fresh(self, page: str, ids: list[int]) -> set[int]:
        """Those of ``ids`` not sent to ``page`` lately."""
        if not page:
            return set(ids)
        with self._lock:
            sent = self._pages.get(page, {})
            return {i for i in ids if i not in sent}

    def record(self, page: str, ids: list[int], now: float) -> None:
        if not page or not ids:
            return
        with self._lock:
            sent = self._pages.pop(page, {})
            sent = {i: t for i, t in sent.items() if now - t < 2 * GAP_TTL_SECONDS}
            sent.update(dict.fromkeys(ids, now))
            self._pages[page] = sent
            while len(self._pages) > self._limit:
                self._pages.popitem(last=False)
