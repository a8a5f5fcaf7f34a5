"""The backtests page: pick a backtest, then read every book's equity beside SPY and equal weight,
the results with their 95% intervals, and who beats whom.

A Dash app of its own at ``/backtests/`` on the dashboard's server (behind the same basic auth and
body cap), so the floor's page and its callbacks stay as they are. ``/backtests/`` shows the newest
backtest, ``/backtests/<id>`` that one. It reads with two floor functions,
:func:`~floor.backtest.records.list_backtests` (without results) and
:func:`~floor.backtest.records.find_backtest`; everything shown of a backtest comes from its
stored results. The page re-renders itself only when a backtest's status changes (one ending,
another starting), checked every ``DASHBOARD_REFRESH_SECONDS``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC
from pathlib import Path

from dash import Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate
from flask import Flask
from sqlalchemy import Engine

from dashboard.backtest_charts import benchmarks, equity_figure, pairwise_figure
from dashboard.backtest_table import results_notes, results_table
from dashboard.layout import nav
from floor.backtest.records import Backtest, UnknownBacktest, find_backtest, list_backtests

PATH = "/backtests/"
MAX_SHOWN_PATH = 40  # what is echoed back of a path that names no backtest
MAX_ID_DIGITS = 9  # a backtest's id is a Postgres integer: anything longer names none
MATRIX_LABEL_WIDTH, MATRIX_CELL_WIDTH = 140, 130  # px: the widest the matrix is drawn
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}


def chosen_backtest(pathname: object) -> int | str | None:
    """What a path asks for: a backtest's id; None for the newest (``/backtests/``); or the text after
    ``/backtests/`` (cut short) when it names no backtest."""
    path = pathname if isinstance(pathname, str) else ""
    rest = path.removeprefix(PATH.rstrip("/")).strip("/")
    if not rest:
        return None
    if rest.isascii() and rest.isdigit() and len(rest) <= MAX_ID_DIGITS:
        return int(rest)
    return rest[:MAX_SHOWN_PATH]


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def _traders(names: tuple[str, ...]) -> str:
    return ", ".join(names) if len(names) <= 4 else f"{len(names)} traders"


def picker(listed: list[Backtest], selected: int | None) -> html.Div:
    """Every backtest, newest first, each a link: id and label, span, traders, status."""
    spans = {b.id: f"{b.spec.start} to {b.spec.end}" for b in listed}
    return html.Div(
        [
            dcc.Link(
                [
                    html.Div(
                        [
                            html.Span(f"#{b.id}", className="pick-id"),
                            html.Span(b.spec.label or "no label", className="pick-label"),
                            html.Span(b.status, className=f"status {b.status}"),
                        ],
                        className="pick-line",
                    ),
                    html.Div(
                        f"{spans[b.id]} · {_traders(b.spec.traders)} × {_seeds(b.spec.seeds)}",
                        className="pick-facts",
                    ),
                ],
                href=f"{PATH}{b.id}",
                className="pick selected" if b.id == selected else "pick",
            )
            for b in listed
        ],
        className="backtest-picker",
    )


def heading(backtest: Backtest) -> html.Div:
    spec, results = backtest.spec, backtest.results or {}
    sessions = results.get("sessions") or len(backtest.sessions)
    facts = [
        f"{spec.start} to {spec.end}",
        f"{sessions} sessions",
        f"{len(spec.traders)} trader{'s' if len(spec.traders) != 1 else ''} × {_seeds(spec.seeds)}",
        f"every trader on {spec.model}" if spec.model else "each trader's own model",
    ]
    if backtest.replay_of is not None:  # every call answered from the recording
        facts.append(f"replayed from backtest {backtest.replay_of}: $0 spent")
    elif results.get("cost") is not None:
        facts.append(f"${results['cost']:,.4f} on models")
    finished = f" {backtest.finished_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if backtest.finished_at else ""
    return html.Div(
        [
            html.H2(f"Backtest {backtest.id}" + (f": {spec.label}" if spec.label else "")),
            html.Div(
                [
                    html.Span(backtest.status + finished, className=f"status {backtest.status}"),
                    " · ".join(facts),
                ],
                className="backtest-facts",
            ),
            *([html.Div(backtest.note, className="note")] if backtest.note else []),
        ],
        className="section backtest-head",
    )


def standing(backtest: Backtest) -> list:
    """What a reader should know before the figures: still running, or nothing played yet."""
    if backtest.status == "running":
        said = (
            "Running again: the figures below are where it stopped; they are replaced when it ends."
            if backtest.results
            else "Running: no results yet. They are stored when it ends, and this page shows them then."
        )
        return [html.Div(said, className="banner running")]
    if not backtest.results:
        return [html.Div("No results yet: no session has been played.", className="banner empty-results")]
    return []


def pairwise_section(results: dict) -> html.Div:
    pairwise = results.get("pairwise")
    caption = (
        "The chance that the row's Sharpe is above the column's: green when the row is mostly ahead, "
        "red when mostly behind, dark near 50% (a coin toss)."
    )
    if not pairwise:
        body = [html.Div("Not computed for this backtest.", className="empty")]
    elif len(pairwise.get("labels", [])) < 2:
        body = [html.Div("One book: nothing to compare.", className="empty")]
    elif all(v is None for row in pairwise["beats"] for v in row):
        body = [html.Div("Too short to compare: every pair's chance is unknown.", className="empty")]
    else:
        # As wide as its cells need: a few books do not stretch into a wall of colour.
        width = MATRIX_LABEL_WIDTH + MATRIX_CELL_WIDTH * len(pairwise["labels"])
        body = [
            html.Div(caption, className="caption"),
            dcc.Graph(
                id="backtest-pairwise",
                figure=pairwise_figure(pairwise),
                config=GRAPH_CONFIG,
                style={"maxWidth": f"{width}px"},
            ),
        ]
    return html.Div([html.H2("Who beats whom"), *body], className="section pairwise")


def equity_section(results: dict) -> html.Div:
    missing = [name for name, b in benchmarks(results) if not b.get("equity")]
    notes = (
        [html.Div(f"Not stored with this backtest: the curve of {', '.join(missing)}.", className="note")]
        if missing
        else []
    )
    return html.Div(
        [
            html.H2("Equity"),
            dcc.Graph(id="backtest-equity", figure=equity_figure(results), config=GRAPH_CONFIG),
            *notes,
        ],
        className="section equity",
    )


def backtest_view(backtest: Backtest) -> list:
    """One backtest: its heading, where it stands, and (once it has results) the curves, table, matrix."""
    shown = [heading(backtest), *standing(backtest)]
    results = backtest.results
    if results:
        shown += [
            equity_section(results),
            html.Div(
                [html.H2("Results"), results_table(results), *results_notes(results)],
                className="section results",
            ),
            pairwise_section(results),
        ]
    return shown


class BacktestsPage:
    """The page's layout and its one callback, a plain method over floor reads (tests call it)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def layout(self, refresh_seconds: int) -> html.Div:
        return html.Div(
            [
                html.Div([html.H1("Trading Floor"), nav("backtests")], className="topbar"),
                dcc.Location(id="url"),
                html.Div(html.Div("loading…", className="empty"), id="backtest-view"),
                dcc.Store(id="backtest-shown"),
                dcc.Interval(id="backtest-refresh", interval=refresh_seconds * 1000),
            ],
            className="page backtests-page",
        )

    def show(self, pathname: object, unless: object = None) -> tuple[list, str]:
        """The picker and the backtest the path asks for, and a mark of what is shown.

        With ``unless`` (the mark of what the browser shows now) the update is prevented when
        nothing listed has changed: a refresh costs one short read of the list.
        """
        listed = list_backtests(self.engine, results=False)
        asked = chosen_backtest(pathname)
        wanted = listed[0].id if asked is None and listed else asked
        mark = _mark(listed, wanted)
        if unless is not None and unless == mark:
            raise PreventUpdate
        if not listed:
            view = [html.Div("No backtests yet: run `floor backtest --start … --end …`.", className="empty")]
        elif isinstance(wanted, str):
            view = [_missing(wanted)]
        else:
            try:
                view = backtest_view(find_backtest(self.engine, wanted))
            except UnknownBacktest:
                view = [_missing(wanted)]
        return [picker(listed, wanted if isinstance(wanted, int) else None), *view], mark

    def register(self, app: Dash) -> None:
        def show(pathname, _ticks, shown):
            return self.show(pathname, shown if ctx.triggered_id == "backtest-refresh" else None)

        app.callback(
            Output("backtest-view", "children"),
            Output("backtest-shown", "data"),
            Input("url", "pathname"),
            Input("backtest-refresh", "n_intervals"),
            State("backtest-shown", "data"),
        )(show)


def _missing(asked: int | str) -> html.Div:
    return html.Div(f"no backtest {asked}", className="banner missing")


def _mark(listed: list[Backtest], wanted: int | str | None) -> str:
    """A short digest of what the page shows: which backtest, and every listed one's status."""
    seen = repr((wanted, [(b.id, b.status, b.finished_at) for b in listed]))
    return hashlib.sha256(seen.encode()).hexdigest()[:16]


def serve_backtests(server: Flask, engine: Engine, *, refresh_seconds: int, assets: Path) -> Dash:
    """The backtests page at ``/backtests/`` on ``server`` (the floor's page's), reading ``engine``."""
    app = Dash(
        "trading-floor-backtests",
        server=server,
        url_base_pathname=PATH,
        title="Backtests · Trading Floor",
        update_title=None,
        assets_folder=str(assets),
        serve_locally=True,
    )
    page = BacktestsPage(engine)
    app.layout = page.layout(refresh_seconds)
    page.register(app)
    return app
