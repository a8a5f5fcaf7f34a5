"""The pieces of the page built from floor views: the leaderboard, the comparison chart, recent cycles.

A trader's own screen is :mod:`dashboard.trader_screen`.
"""

from __future__ import annotations

from datetime import UTC

import numpy as np
from dash import html

from dashboard.trader_screen import chart_layout, in_range, money, tone
from floor.portfolio.leaderboard import sharpe_note
from floor.portfolio.metrics import downsample
from floor.portfolio.value_history import ValueHistory
from floor.portfolio.views import CycleRow, Standing

COMPARISON_CHART_POINTS = 400
COMPARISON_CHART_BUDGET = 6_000  # points over every line of the comparison chart
PALETTE = ["#58a6ff", "#3fb950", "#e3b341", "#f85149", "#39c5cf", "#db61a2", "#a5d6ff", "#7ee787"]
BENCHMARK_COLOUR = "#d2a8ff"


def _percent(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:+.{digits}f}%"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _trace(history: ValueHistory, points: int, **style) -> dict:
    """A line trace of a downsampled history; x in epoch milliseconds on a date axis (compact JSON)."""
    x, y = downsample(history.times, history.values, points)
    return {
        "type": "scatter",
        "mode": "lines",
        "x": (x * 1000).astype(np.int64).tolist(),
        "y": np.round(y, 2).tolist(),
        **style,
    }


def comparison_figure(
    histories: dict[str, ValueHistory], benchmark: ValueHistory, labels: dict, start: float | None = None
) -> dict:
    """Every trader's value and the benchmark's on one chart (from ``start``, epoch seconds, if given)."""
    histories = {name: in_range(h, start) for name, h in histories.items()}
    benchmark = in_range(benchmark, start)
    shown = [(i, name, h) for i, (name, h) in enumerate(histories.items()) if len(h)]
    # Keep the whole chart to a few thousand points however many traders there are.
    points = max(60, min(COMPARISON_CHART_POINTS, COMPARISON_CHART_BUDGET // (len(shown) + 1)))
    data = [
        _trace(
            h, points, name=labels.get(name, name), line={"color": PALETTE[i % len(PALETTE)], "width": 1.5}
        )
        for i, name, h in shown
    ]
    if len(benchmark):
        data.append(
            _trace(
                benchmark,
                points,
                name="SPY buy & hold",
                line={"color": BENCHMARK_COLOUR, "width": 2, "dash": "dash"},
            )
        )
    layout = chart_layout(320, legend=True)
    layout["hovermode"] = "x unified"
    return {"data": data, "layout": layout}


def _table(
    header: list[str],
    rows: list[list],
    row_classes: list[str] | None = None,
    column_classes: list[str] | None = None,
) -> html.Div:
    """A table in a box that scrolls sideways by itself, so the page never does."""
    classes = row_classes or [""] * len(rows)
    columns = column_classes or [""] * len(header)
    return html.Div(
        html.Table(
            [
                html.Thead(
                    html.Tr([html.Th(h, className=c or None) for h, c in zip(header, columns, strict=True)])
                ),
                html.Tbody(
                    [
                        html.Tr(
                            [html.Td(v, className=c or None) for v, c in zip(row, columns, strict=True)],
                            className=cls,
                        )
                        for row, cls in zip(rows, classes, strict=True)
                    ]
                ),
            ],
            className="grid",
        ),
        className="table-wrap",
    )


def ratio_basis(s: Standing) -> str:
    """What the Sharpe and Sortino of a row are computed over, and whether they are annualised."""
    if s.points < 3:
        return f"{s.points} points: too few"
    return f"{s.points} points, annualised" if s.annualised else f"{s.points} points, per period (< 1 day)"


LEADERBOARD_COLUMNS = [
    ("#", ""),
    ("trader", ""),
    ("value", ""),
    ("return", ""),
    ("Sharpe", ""),
    ("Sortino", "optional"),
    ("ratios over", "basis"),
    ("daily Sharpe [95%]", ""),
    ("max drawdown", ""),
    ("win rate", "optional"),
    ("trades", ""),
    ("tokens", "optional"),
    ("cost", "optional"),
]


def daily_sharpe(s: Standing) -> str:
    """The annualised Sharpe of daily values with its 95% interval, or why there is none."""
    if s.daily is None:
        return "–"
    sharpe = s.daily.sharpe
    if sharpe.low is None or sharpe.high is None:
        return sharpe_note(s.daily) or "–"
    return f"{sharpe.value:.2f} [{sharpe.low:.2f}, {sharpe.high:.2f}]"


def leaderboard_table(standings: list[Standing]) -> html.Div:
    rows, classes, rank = [], [], 0
    for s in standings:
        if s.trader is not None:
            rank += 1
        rows.append(
            [
                str(rank) if s.trader is not None else "",
                s.label,
                money(s.portfolio_value),
                html.Span(_percent(s.return_pct), className=tone(s.return_pct or 0.0)),
                _ratio(s.sharpe),
                _ratio(s.sortino),
                ratio_basis(s),
                daily_sharpe(s),
                f"{s.max_drawdown_pct:.2f}%",
                "–" if s.win_rate_pct is None else f"{s.win_rate_pct:.0f}%",
                f"{s.trades:,}" if s.trader is not None else "",
                "–" if s.tokens is None else f"{s.tokens:,}",
                "–" if s.cost is None else f"${s.cost:,.4f}",
            ]
        )
        classes.append("trader-row" if s.trader is not None else "benchmark")
    header = [h for h, _ in LEADERBOARD_COLUMNS]
    return _table(header, rows, classes, [c for _, c in LEADERBOARD_COLUMNS])


def flow_run_url(prefect_ui: str | None, flow_run_id: str | None) -> str | None:
    if not prefect_ui or not flow_run_id:
        return None
    return f"{prefect_ui.rstrip('/')}/runs/flow-run/{flow_run_id}"


def cycles_table(cycles: list[CycleRow], prefect_ui: str | None) -> html.Div:
    """Recent cycles; each number links to its flow run when a Prefect UI is known, else plain."""
    if not cycles:
        return html.Div("no cycles yet", className="empty")
    rows = []
    for c in cycles:
        url = flow_run_url(prefect_ui, c.flow_run_id)
        number = (
            html.A(str(c.id), href=url, target="_blank", title="this cycle's flow run in Prefect")
            if url
            else str(c.id)
        )
        if c.status == "crashed":
            took = "–"  # found dead later: how long it ran is not known
        elif c.finished_at:
            took = f"{(c.finished_at - c.started_at).total_seconds():.0f} s"
        else:
            took = "…"
        rows.append(
            [
                number,
                c.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                c.status + (" (forced)" if c.forced else ""),
                took,
                c.note or "",
            ]
        )
    return _table(["cycle", "started (UTC)", "status", "took", "note"], rows)
