"""The dashboard's two callbacks: refresh the portfolio panels, and poll the activity logs.

Both are plain methods over floor query functions, so tests call them directly; ``register``
wires them to the page's components.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC

from dash import ALL, Dash, Input, Output, Patch, State, no_update
from dash.exceptions import PreventUpdate
from sqlalchemy import Engine

from dashboard import log_feed, panels
from floor.market import MarketData
from floor.portfolio_views import floor_view, log_lines_after, recent_cycles
from floor.value_history import ValueHistoryCache

LOG_BATCH = 500  # most lines one poll returns; the rest follow on the next poll
RECENT_CYCLES = 10


class DashboardCallbacks:
    def __init__(
        self,
        engine: Engine,
        market: MarketData,
        *,
        prefect_ui: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.market = market
        self.prefect_ui = prefect_ui
        self.clock = clock
        self.history = ValueHistoryCache()  # snapshots are read once, then only new ones

    def refresh_portfolios(self, _ticks, _clicks, body_ids: list[dict]) -> tuple:
        """Every trader's panel, the leaderboard, the comparison chart, recent cycles, the time."""
        view = floor_view(self.engine, self.market, self.history)
        reports = {r["name"]: r for r in view.reports}
        colours = {name: panels.PALETTE[i % len(panels.PALETTE)] for i, name in enumerate(view.histories)}
        bodies = []
        for body_id in body_ids:
            name = body_id["trader"]
            report = reports.get(name)
            if report is None:  # removed since the page loaded
                bodies.append([])
                continue
            bodies.append(panels.trader_body(report, view.histories[name], colours[name]))
        labels = {r["name"]: f"{r['name']} {r['lastname']}" for r in view.reports}
        return (
            bodies,
            panels.leaderboard_table(view.standings),
            panels.comparison_figure(view.histories, view.benchmark, labels),
            panels.cycles_table(recent_cycles(self.engine, RECENT_CYCLES), self.prefect_ui),
            f"as of {view.read_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
        )

    def poll_logs(self, _ticks, cursor: dict, log_ids: list[dict]) -> tuple:
        """New log lines since the cursor, added to the top of each trader's log.

        With nothing new the update is prevented: the browser gets an empty 204 response.
        """
        lines = log_lines_after(self.engine, int(cursor["last"]), log_feed.pending_gaps(cursor), LOG_BATCH)
        moved = log_feed.advance(cursor, [line.id for line in lines], self.clock())
        if not lines and moved["gaps"].keys() == cursor.get("gaps", {}).keys():
            raise PreventUpdate
        names = [i["trader"] for i in log_ids]
        patches = {name: Patch() for name in names}
        counts = moved["counts"]
        for line in lines:
            if line.trader in patches:
                patches[line.trader].prepend(log_feed.log_line(line))
                counts[line.trader] = counts.get(line.trader, 0) + 1
        for name, patch in patches.items():
            while counts.get(name, 0) > log_feed.MAX_LINES:  # drop the oldest, at the bottom
                del patch[log_feed.MAX_LINES]
                counts[name] -= 1
        touched = {line.trader for line in lines}
        return [patches[n] if n in touched else no_update for n in names], moved

    def register(self, app: Dash) -> None:
        app.callback(
            Output({"type": "trader-body", "trader": ALL}, "children"),
            Output("leaderboard", "children"),
            Output("comparison", "figure"),
            Output("cycles", "children"),
            Output("as-of", "children"),
            Input("portfolio-refresh", "n_intervals"),
            Input("refresh", "n_clicks"),
            State({"type": "trader-body", "trader": ALL}, "id"),
            prevent_initial_call=True,  # the page arrives with the panels filled in
        )(self.refresh_portfolios)
        app.callback(
            Output({"type": "log", "trader": ALL}, "children"),
            Output("log-cursor", "data"),
            Input("log-poll", "n_intervals"),
            State("log-cursor", "data"),
            State({"type": "log", "trader": ALL}, "id"),
            prevent_initial_call=True,
        )(self.poll_logs)
