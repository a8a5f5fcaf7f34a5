"""The pieces of the page built from floor views: trader summaries, charts and tables."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from dash import dcc, html

from floor.metrics import downsample
from floor.portfolio import AccountView
from floor.portfolio_views import CycleRow, Standing
from floor.value_history import ValueHistory

TRADER_CHART_POINTS = 300
COMPARISON_CHART_POINTS = 400
COMPARISON_CHART_BUDGET = 6_000  # points over every line of the comparison chart
PALETTE = ["#58a6ff", "#3fb950", "#e3b341", "#f85149", "#39c5cf", "#db61a2", "#a5d6ff", "#7ee787"]
BENCHMARK_COLOUR = "#d2a8ff"


def money(value: float) -> str:
    return f"${value:,.2f}"


def signed_money(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}${abs(value):,.2f}"


def tone(value: float) -> str:
    """The CSS class of a gain, a loss, or neither."""
    return "gain" if value > 0.005 else "loss" if value < -0.005 else "flat"


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


def _layout(height: int, *, legend: bool) -> dict:
    return {
        "height": height,
        "margin": {"l": 48, "r": 8, "t": 8, "b": 28},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": "#c9d1d9", "size": 11},
        "xaxis": {"type": "date", "gridcolor": "#2a3038"},
        "yaxis": {"gridcolor": "#2a3038", "tickprefix": "$", "tickformat": ",.2~f"},
        "showlegend": legend,
        "legend": {"orientation": "h", "y": -0.15},
        "hovermode": "x unified",
    }


def value_figure(history: ValueHistory, colour: str) -> dict:
    """One trader's value over time, downsampled for the chart (a plain Plotly figure dict)."""
    trace = _trace(history, TRADER_CHART_POINTS, line={"color": colour, "width": 2}, hoverinfo="x+y")
    return {"data": [trace], "layout": _layout(180, legend=False)}


def comparison_figure(histories: dict[str, ValueHistory], benchmark: ValueHistory, labels: dict) -> dict:
    """Every trader's value and the benchmark's on one chart."""
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
    return {"data": data, "layout": _layout(320, legend=True)}


def _table(header: list[str], rows: list[list], row_classes: list[str] | None = None) -> html.Table:
    classes = row_classes or [""] * len(rows)
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in header])),
            html.Tbody(
                [
                    html.Tr([html.Td(c) for c in row], className=cls)
                    for row, cls in zip(rows, classes, strict=True)
                ]
            ),
        ],
        className="grid",
    )


def _markdown_table(header: list[str], rows: list[list[str]]) -> dcc.Markdown:
    """A table as one Markdown component: far lighter to build and send than a component per cell."""
    lines = ["| " + " | ".join(header) + " |", "|:--" + "|--:" * (len(header) - 1) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return dcc.Markdown("\n".join(lines), className="grid")


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%m-%d %H:%M")


def trader_body(account: AccountView, history: ValueHistory, colour: str) -> list:
    """Value and P&L, chart, holdings and recent transactions of one trader (the read model's)."""
    pnl = float(account.profit_loss)
    pct = float(account.profit_loss_pct or 0)
    holdings = account.holdings
    recent = list(reversed(account.transactions))
    return [
        html.Div(money(float(account.value)), className="value", **{"data-value": float(account.value)}),
        html.Div(f"{signed_money(pnl)} ({pct:+.2f}%)", className=f"pnl {tone(pnl)}"),
        html.Div(f"cash {money(float(account.cash))}", className="cash"),
        dcc.Graph(figure=value_figure(history, colour), config={"displayModeBar": False})
        if len(history)
        else html.Div("no valuations yet", className="empty"),
        html.Div("Holdings", className="subhead"),
        _markdown_table(
            ["symbol", "shares"],
            [[h.symbol + (" (no price: at cost)" if h.missing else ""), f"{h.shares:,}"] for h in holdings],
        )
        if holdings
        else html.Div("all cash", className="empty"),
        html.Div(f"Transactions ({account.trade_count:,})", className="subhead"),
        _markdown_table(
            ["time (UTC)", "side", "qty", "symbol", "price"],
            [
                [_utc(t.created_at), t.side, f"{t.quantity:,}", t.symbol, money(float(t.price))]
                for t in recent
            ],
        )
        if recent
        else html.Div("no trades yet", className="empty"),
    ]


def leaderboard_table(standings: list[Standing]) -> html.Table:
    header = [
        "#",
        "trader",
        "value",
        "return",
        "Sharpe",
        "Sortino",
        "max DD",
        "win rate",
        "trades",
        "tokens",
        "cost",
    ]
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
                f"{s.max_drawdown_pct:.2f}%",
                "–" if s.win_rate_pct is None else f"{s.win_rate_pct:.0f}%",
                f"{s.trades:,}" if s.trader is not None else "",
                "–" if s.tokens is None else f"{s.tokens:,}",
                "–" if s.cost is None else f"${s.cost:,.4f}",
            ]
        )
        classes.append("trader-row" if s.trader is not None else "benchmark")
    return _table(header, rows, classes)


def flow_run_url(prefect_ui: str | None, flow_run_id: str | None) -> str | None:
    if not prefect_ui or not flow_run_id:
        return None
    return f"{prefect_ui.rstrip('/')}/runs/flow-run/{flow_run_id}"


def cycles_table(cycles: list[CycleRow], prefect_ui: str | None) -> html.Table | html.Div:
    if not cycles:
        return html.Div("no cycles yet", className="empty")
    rows = []
    for c in cycles:
        url = flow_run_url(prefect_ui, c.flow_run_id)
        run = html.A("flow run", href=url, target="_blank") if url else (c.flow_run_id or "–")
        if c.status == "crashed":
            took = "–"  # found dead later: how long it ran is not known
        elif c.finished_at:
            took = f"{(c.finished_at - c.started_at).total_seconds():.0f} s"
        else:
            took = "…"
        rows.append(
            [
                str(c.id),
                c.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                c.status + (" (forced)" if c.forced else ""),
                took,
                run,
                c.note or "",
            ]
        )
    return _table(["cycle", "started (UTC)", "status", "took", "Prefect", "note"], rows)
