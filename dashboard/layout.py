"""The page: a top bar, the leaderboard and comparison chart, one column per trader, recent cycles.

Built on every page load from the accounts on the floor (traders are data), with each column's
newest activity (the feed of :mod:`floor.runs.activity_feed`) and (when given the refresh) the
trader screens already in place.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from dash import dcc, html
from sqlalchemy import Engine

from dashboard import log_feed
from dashboard.trader_screen import DEFAULT_RANGE, RANGES
from floor.ledger.accounts import list_accounts
from floor.portfolio.views import recent_log_lines
from floor.runs.activity_feed import FeedLine, feed_by_trader

INITIAL_LOG_LINES = 30
PAGES = {"floor": ("Floor", "/"), "backtests": ("Backtests", "/backtests/")}


def nav(active: str) -> html.Nav:
    """The links between the dashboard's pages, ``active`` marked."""
    return html.Nav(
        [
            html.A(label, href=href, className="active" if key == active else None)
            for key, (label, href) in PAGES.items()
        ],
        className="nav",
    )


def trader_column(name: str, lastname: str, model: str, lines: list[FeedLine], body: list) -> html.Div:
    return html.Div(
        [
            html.H3(f"{name} {lastname}"),
            html.Div(model, className="model"),
            html.Div(body, id={"type": "trader-body", "trader": name}, className="trader-body"),
            html.Div("Activity", className="subhead"),
            html.Div(
                [log_feed.feed_line(line) for line in reversed(lines)],
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
    clock: Callable[[], float] = time.time,
) -> html.Div:
    """The whole page; with ``panels`` (the portfolio refresh) the panels come filled in, so a
    visitor sees values without waiting for a first callback round trip."""
    accounts = list_accounts(engine)
    body_ids = [{"type": "trader-body", "trader": a.name} for a in accounts]
    if panels is not None:
        bodies, board, comparison, cycles, as_of = panels(body_ids)
    else:
        bodies, board, comparison, cycles, as_of = [[] for _ in accounts], None, {}, None, None
    entries = recent_log_lines(engine, INITIAL_LOG_LINES)
    now = clock()
    feeds = feed_by_trader(entries, hold_since=datetime.fromtimestamp(now - log_feed.HOLD_SECONDS, UTC))
    held = sorted({i for f in feeds.values() for i in f.held})
    shown = [e.id for e in entries if e.id not in set(held)]
    cursor = log_feed.new_cursor(max(shown, default=0), uuid.uuid4().hex)
    # An effect held back for its step is asked for again by the first polls.
    cursor["gaps"] = {str(i): now for i in held if i < cursor["last"]}
    by_trader = {a.name: (feeds[a.name].lines if a.name in feeds else []) for a in accounts}
    cursor["counts"] = {name: min(len(found), log_feed.MAX_LINES) for name, found in by_trader.items()}
    links = [html.A("Prefect UI", href=prefect_ui, target="_blank")] if prefect_ui else []
    return html.Div(
        [
            html.Div(
                [
                    html.H1("Trading Floor"),
                    nav("floor"),
                    html.Span(as_of, id="as-of", className="as-of"),
                    html.Button("Refresh", id="refresh", className="refresh", n_clicks=0),
                    dcc.RadioItems(
                        id="range",
                        options=[{"label": r, "value": r} for r in RANGES],
                        value=DEFAULT_RANGE,
                        inline=True,
                        className="range",
                    ),
                    *links,
                ],
                className="topbar",
            ),
            html.Div(
                [
                    html.H2("Leaderboard"),
                    html.Div(board, id="leaderboard"),
                    dcc.Graph(id="comparison", figure=comparison, config={"responsive": True}),
                ],
                className="section",
            ),
            html.Div(
                [
                    trader_column(a.name, a.lastname, a.model, by_trader[a.name][-log_feed.MAX_LINES :], body)
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
