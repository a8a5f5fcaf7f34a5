"""The page: a top bar, the leaderboard and comparison chart, one column per trader, recent cycles.

Built on every page load from the accounts on the floor (traders are data), with each column's
newest log lines and (when given the refresh) the portfolio panels already in place.
"""

from __future__ import annotations

from collections.abc import Callable

from dash import dcc, html
from sqlalchemy import Engine

from dashboard import log_feed
from floor.accounts import list_accounts
from floor.portfolio_views import recent_log_lines

INITIAL_LOG_LINES = 30


def trader_column(name: str, lastname: str, model: str, lines: list, body: list) -> html.Div:
    return html.Div(
        [
            html.H3(f"{name} {lastname}"),
            html.Div(model, className="model"),
            html.Div(body, id={"type": "trader-body", "trader": name}, className="trader-body"),
            html.Div("Activity", className="subhead"),
            html.Div(
                [log_feed.log_line(line) for line in reversed(lines)],
                id={"type": "log", "trader": name},
                className="log",
            ),
        ],
        id={"type": "trader", "trader": name},
        className="trader",
        **{"data-trader": name},
    )


def page(
    engine: Engine,
    *,
    log_poll_ms: int,
    refresh_seconds: int,
    prefect_ui: str | None,
    panels: Callable[[list[dict]], tuple] | None = None,
) -> html.Div:
    """The whole page; with ``panels`` (the portfolio refresh) the panels come filled in, so a
    visitor sees values without waiting for a first callback round trip."""
    accounts = list_accounts(engine)
    body_ids = [{"type": "trader-body", "trader": a.name} for a in accounts]
    if panels is not None:
        bodies, board, comparison, cycles, as_of = panels(body_ids)
    else:
        bodies, board, comparison, cycles, as_of = [[] for _ in accounts], None, {}, None, None
    lines = recent_log_lines(engine, INITIAL_LOG_LINES)
    by_trader: dict[str, list] = {a.name: [] for a in accounts}
    for line in lines:
        by_trader.setdefault(line.trader, []).append(line)
    cursor = log_feed.new_cursor(max((line.id for line in lines), default=0))
    cursor["counts"] = {name: len(found) for name, found in by_trader.items()}
    links = [html.A("Prefect UI", href=prefect_ui, target="_blank")] if prefect_ui else []
    return html.Div(
        [
            html.Div(
                [
                    html.H1("Trading Floor"),
                    html.Span(as_of, id="as-of", className="as-of"),
                    html.Button("Refresh", id="refresh", className="refresh", n_clicks=0),
                    *links,
                ],
                className="topbar",
            ),
            html.Div(
                [
                    html.H2("Leaderboard"),
                    html.Div(board, id="leaderboard"),
                    dcc.Graph(id="comparison", figure=comparison),
                ],
                className="section",
            ),
            html.Div(
                [
                    trader_column(a.name, a.lastname, a.model, by_trader.get(a.name, []), body)
                    for a, body in zip(accounts, bodies, strict=True)
                ]
                or [html.Div("No traders yet: run `floor reset`.", className="empty")],
                className="columns",
            ),
            html.Div([html.H2("Recent cycles"), html.Div(cycles, id="cycles")], className="section"),
            dcc.Store(id="log-cursor", data=cursor),
            dcc.Interval(id="log-poll", interval=log_poll_ms),
            dcc.Interval(id="portfolio-refresh", interval=refresh_seconds * 1000),
        ],
        className="page",
    )
