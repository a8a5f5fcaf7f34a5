"""The dashboard's two callbacks: refresh the portfolio panels, and poll the activity feed.

Both are plain methods over floor query functions, so tests call them directly; ``register``
wires them to the page's components. Everything a callback gets from the browser (component ids,
the log cursor, the time range) is clamped to what exists before it is used: a crafted request
costs what an ordinary one does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from dash import ALL, Dash, Input, Output, Patch, State, no_update
from dash.exceptions import PreventUpdate
from sqlalchemy import Engine

from dashboard import log_feed, panels, trader_screen
from floor.portfolio.value_history import ValueHistoryCache
from floor.portfolio.views import floor_view, log_lines_after, newest_log_id, recent_cycles
from floor.runs.activity_feed import feed_by_trader

LOG_BATCH = 500  # most lines one poll returns; the rest follow on the next poll
RECENT_CYCLES = 10


class DashboardCallbacks:
    def __init__(
        self,
        engine: Engine,
        source: str,
        *,
        prefect_ui: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.source = source  # the configured market's name: whose cached prices value holdings
        self.prefect_ui = prefect_ui
        self.clock = clock
        self.history = ValueHistoryCache()  # snapshots are read once, then only new ones
        self.delivered = log_feed.Delivered()

    def refresh_portfolios(self, _ticks, _clicks, body_ids: list[dict], chosen: object = None) -> tuple:
        """Every trader's screen, the leaderboard, the comparison chart, recent cycles, the time.

        ``chosen`` is the time range of the charts (day, week, month or all), counted back from
        the newest valuation.
        """
        chosen = chosen if isinstance(chosen, str) and chosen in trader_screen.RANGES else None
        view = floor_view(self.engine, self.source, self.history)
        ends = [float(h.times[-1]) for h in view.histories.values() if len(h)]
        start = trader_screen.range_start(chosen, max(ends) if ends else None)
        by_name = {v.trader: v for v in view.accounts}
        colours = {name: panels.PALETTE[i % len(panels.PALETTE)] for i, name in enumerate(view.histories)}
        rendered: dict[str, list] = {}  # each trader's panel built once, however often it is asked for
        bodies = []
        for name in _column_names(body_ids):
            account = by_name.get(name)
            if account is None:  # removed since the page loaded (or not a trader at all)
                bodies.append([])
                continue
            if name not in rendered:
                rendered[name] = trader_screen.trader_body(
                    account, view.histories[name], colours[name], risk=view.risk.get(name), start=start
                )
            bodies.append(rendered[name])
        labels = {v.trader: f"{v.trader} {v.lastname}" for v in view.accounts}
        return (
            bodies,
            panels.leaderboard_table(view.standings),
            panels.comparison_figure(view.histories, view.benchmark, labels, start),
            panels.cycles_table(recent_cycles(self.engine, RECENT_CYCLES), self.prefect_ui),
            f"as of {view.read_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
        )

    def poll_logs(self, _ticks, cursor: dict, log_ids: list[dict]) -> tuple:
        """New feed lines since the cursor, added to the top of each trader's feed.

        An ``account`` entry whose step is not written yet is held back (asked for again with the
        next poll) for a few seconds, so it shows after the tool call that caused it. With nothing
        new the update is prevented: the browser gets an empty 204 response.
        """
        names = _column_names(log_ids)
        now = self.clock()
        cursor = log_feed.clamp_cursor(cursor, newest_log_id(self.engine), [n for n in names if n], now)
        lines = log_lines_after(self.engine, cursor["last"], log_feed.pending_gaps(cursor), LOG_BATCH)
        columns = {name for name in names if name}
        fresh = self.delivered.fresh(cursor["page"], [line.id for line in lines])
        hold_since = datetime.fromtimestamp(now - log_feed.HOLD_SECONDS, UTC)
        feeds = feed_by_trader(
            [line for line in lines if line.trader in columns and line.id in fresh], hold_since=hold_since
        )
        held = {i for f in feeds.values() for i in f.held}
        seen = [line.id for line in lines if line.id not in held]
        self.delivered.record(cursor["page"], [i for i in seen if i in fresh], now)
        moved = log_feed.advance(cursor, seen, now)
        shown_any = any(f.lines for f in feeds.values())
        if not shown_any and moved == cursor:
            raise PreventUpdate
        counts = moved["counts"]
        patches = {}
        for name, found in feeds.items():
            if not found.lines:
                continue
            patch = patches[name] = Patch()
            for line in found.lines[-log_feed.MAX_LINES :]:  # older ones would be dropped right away
                patch.prepend(log_feed.feed_line(line))
            counts[name] = counts.get(name, 0) + min(len(found.lines), log_feed.MAX_LINES)
            while counts[name] > log_feed.MAX_LINES:  # drop the oldest, at the bottom
                del patch[log_feed.MAX_LINES]
                counts[name] -= 1
        # A column asked for twice (no page does that) gets its lines once.
        return [patches.pop(n) if n in patches else no_update for n in names], moved

    def register(self, app: Dash) -> None:
        def refresh(ticks, clicks, chosen, body_ids):
            return self.refresh_portfolios(ticks, clicks, body_ids, chosen)

        app.callback(
            Output({"type": "trader-body", "trader": ALL}, "children"),
            Output("leaderboard", "children"),
            Output("comparison", "figure"),
            Output("cycles", "children"),
            Output("as-of", "children"),
            Input("portfolio-refresh", "n_intervals"),
            Input("refresh", "n_clicks"),
            Input("range", "value"),
            State({"type": "trader-body", "trader": ALL}, "id"),
            prevent_initial_call=True,  # the page arrives with the panels filled in
        )(refresh)
        app.callback(
            Output({"type": "log", "trader": ALL}, "children"),
            Output("log-cursor", "data"),
            Input("log-poll", "n_intervals"),
            State("log-cursor", "data"),
            State({"type": "log", "trader": ALL}, "id"),
            prevent_initial_call=True,
        )(self.poll_logs)


def _column_names(component_ids: list) -> list[str | None]:
    """The trader of each pattern-matching id the browser sent, None for one that is not such an id."""
    if not isinstance(component_ids, list):
        return []
    names = []
    for component_id in component_ids:
        name = component_id.get("trader") if isinstance(component_id, dict) else None
        names.append(name if isinstance(name, str) else None)
    return names
