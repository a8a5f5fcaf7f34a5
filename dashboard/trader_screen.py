"""A trader's screen: value and P&L, risk state, the value chart with its trades, positions and trades.

Everything comes from the read model (:class:`floor.portfolio.read_model.AccountView`); this module only
formats. Floats appear here and nowhere earlier: the figures are the ledger's Decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
from dash import dcc, html

from floor.ledger.risk_book import RiskState
from floor.money import MINUS
from floor.portfolio.metrics import downsample
from floor.portfolio.read_model import AccountView, Holding, Transaction
from floor.portfolio.value_history import ValueHistory

TRADER_CHART_POINTS = 300
TABLE_TRANSACTIONS = 10  # the newest shown in the table; the chart marks every trade it was given
RANGES = {"day": 24 * 3600, "week": 7 * 24 * 3600, "month": 30 * 24 * 3600, "all": None}
DEFAULT_RANGE = "all"
BUY_COLOUR, SELL_COLOUR = "#3fb950", "#f85149"


def money(value: Decimal | float) -> str:
    return f"${float(value):,.2f}"


def signed_money(value: Decimal | float) -> str:
    v = float(value)
    return f"{'+' if v >= 0 else MINUS}${abs(v):,.2f}"


def percent(value: Decimal | float | None) -> str:
    return "–" if value is None else f"{float(value):+.2f}%".replace("-", MINUS)


def tone(value: Decimal | float) -> str:
    """The CSS class of a gain, a loss, or neither."""
    v = float(value)
    return "gain" if v > 0.005 else "loss" if v < -0.005 else "flat"


def range_start(chosen: str | None, end: float | None) -> float | None:
    """The first epoch second the range ``chosen`` shows, counted back from ``end`` (the newest point)."""
    span = RANGES.get(chosen or DEFAULT_RANGE)
    return None if span is None or end is None else end - span


def in_range(history: ValueHistory, start: float | None) -> ValueHistory:
    if start is None or not len(history):
        return history
    keep = history.times >= start
    return ValueHistory(history.times[keep], history.values[keep])


def chart_layout(height: int, *, legend: bool) -> dict:
    return {
        "height": height,
        "autosize": True,
        "margin": {"l": 48, "r": 8, "t": 8, "b": 28},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": "#c9d1d9", "size": 11},
        "xaxis": {"type": "date", "gridcolor": "#2a3038"},
        "yaxis": {"gridcolor": "#2a3038", "tickprefix": "$", "tickformat": ",.2~f"},
        "showlegend": legend,
        "legend": {"orientation": "h", "y": -0.15},
        "hovermode": "closest",
    }


def _epoch_ms(values: np.ndarray) -> list[int]:
    return (values * 1000).astype(np.int64).tolist()


def value_figure(
    history: ValueHistory, trades: Sequence[Transaction], colour: str, start: float | None = None
) -> dict:
    """The trader's value over time (downsampled), with a marker on the line at each trade."""
    shown = in_range(history, start)
    x, y = downsample(shown.times, shown.values, TRADER_CHART_POINTS)
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "value",
            "x": _epoch_ms(x),
            "y": np.round(y, 2).tolist(),
            "line": {"color": colour, "width": 2},
            "hovertemplate": "%{x|%m-%d %H:%M} %{y:$,.2f}<extra></extra>",
        }
    ]
    if len(shown):
        for side, colour_of, symbol in (
            ("buy", BUY_COLOUR, "triangle-up"),
            ("sell", SELL_COLOUR, "triangle-down"),
        ):
            # Trades after the newest valuation (a cycle still running) are marked once it is valued.
            marks = [
                t
                for t in trades
                if t.side == side and shown.times[0] <= t.created_at.timestamp() <= shown.times[-1]
            ]
            if not marks:
                continue
            at = np.array([t.created_at.timestamp() for t in marks])
            # On the line: the value at the trade's time, read off the snapshots around it.
            on_line = np.interp(at, shown.times, shown.values)
            verb = "bought" if side == "buy" else "sold"
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": f"{side}s",
                    "x": _epoch_ms(at),
                    "y": np.round(on_line, 2).tolist(),
                    "marker": {"symbol": symbol, "size": 10, "color": colour_of},
                    "text": [f"{verb} {t.quantity:,} {t.symbol} at {money(t.price)}" for t in marks],
                    "hovertemplate": "%{text}<extra></extra>",
                }
            )
    return {"data": data, "layout": chart_layout(180, legend=False)}


def _cell(value, class_name: str = "") -> html.Td:
    return html.Td(value, className=class_name or None)


def positions_table(account: AccountView) -> html.Div:
    """Each holding with average cost, last price, market value, unrealised P&L ($ and %) and weight."""
    if not account.holdings:
        return html.Div("all cash", className="empty")
    header = ["symbol", "shares", "avg cost", "price", "value", "P&L", "P&L %", "weight"]
    rows = [_position_row(h) for h in account.holdings]
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)], className="grid positions"
    )
    notes = []
    if account.unpriced:
        notes.append(
            html.Div(
                f"no price for {', '.join(account.unpriced)}: counted at cost",
                className="flag-note",
            )
        )
    return html.Div([html.Div(table, className="table-wrap"), *notes])


def _position_row(h: Holding) -> html.Tr:
    if h.missing:
        price = html.Span("no price", className="flag", title="no cached price: valued at cost")
    else:
        price = money(h.price)
    return html.Tr(
        [
            _cell(h.symbol),
            _cell(f"{h.shares:,}"),
            _cell(money(h.average_cost)),
            _cell(price),
            _cell(money(h.market_value)),
            _cell(signed_money(h.unrealised), tone(h.unrealised)),
            _cell(percent(h.unrealised_pct), tone(h.unrealised)),
            _cell("–" if h.weight_pct is None else f"{float(h.weight_pct):.2f}%"),
        ],
        className="missing" if h.missing else None,
        **{"data-symbol": h.symbol},
    )


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%m-%d %H:%M")


def transactions_table(account: AccountView) -> html.Div:
    """The newest trades, newest first: price, total and a sell's realised P&L, the rationale below."""
    recent = list(reversed(account.transactions[-TABLE_TRANSACTIONS:]))
    if not recent:
        return html.Div("no trades yet", className="empty")
    header = ["time (UTC)", "side", "qty", "symbol", "price", "total", "realised"]
    body = []
    for t in recent:
        realised = "" if t.realised is None else signed_money(t.realised)
        body.append(
            html.Tr(
                [
                    _cell(_utc(t.created_at)),
                    _cell(t.side, t.side),
                    _cell(f"{t.quantity:,}"),
                    _cell(t.symbol),
                    _cell(money(t.price)),
                    _cell(money(t.total)),
                    _cell(realised, tone(t.realised) if t.realised is not None else ""),
                ],
                className="trade",
            )
        )
        if t.rationale:
            body.append(html.Tr(html.Td(t.rationale, colSpan=len(header)), className="rationale"))
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)], className="grid trades"
    )
    return html.Div(table, className="table-wrap")


def risk_block(risk: RiskState | None) -> list:
    """A halt in force and the limits that fired recently; nothing when there are neither."""
    if risk is None:
        return []
    shown = []
    if risk.halt is not None:
        halt = risk.halt
        shown.append(
            html.Div(
                f"HALTED since {_utc(halt.since)} UTC — sells only ({halt.sessions_passed} sessions since): "
                f"{halt.reason}",
                className="halt",
            )
        )
    if risk.fired:
        shown.append(
            html.Ul(
                [html.Li(f"{_utc(f.created_at)} {f.rule}: {f.message}") for f in reversed(risk.fired)],
                className="fired",
            )
        )
    return shown


def trader_body(
    account: AccountView,
    history: ValueHistory,
    colour: str,
    *,
    risk: RiskState | None = None,
    start: float | None = None,
) -> list:
    """One trader's screen, from its account view and value history."""
    realised = [t for t in account.transactions if t.realised is not None]
    return [
        html.Div(money(account.value), className="value", **{"data-value": float(account.value)}),
        html.Div(
            f"{signed_money(account.profit_loss)} ({percent(account.profit_loss_pct)})",
            className=f"pnl {tone(account.profit_loss)}",
        ),
        html.Div(
            f"cash {money(account.cash)} · realised {signed_money(account.realised)}"
            + (f" · {len(account.unpriced)} unpriced" if account.unpriced else ""),
            className="cash",
        ),
        *risk_block(risk),
        dcc.Graph(
            figure=value_figure(history, account.transactions, colour, start),
            config={"displayModeBar": False, "responsive": True},
            className="value-chart",
        )
        if len(history)
        else html.Div("no valuations yet", className="empty"),
        html.Div("Positions", className="subhead"),
        positions_table(account),
        html.Div(
            f"Transactions ({account.trade_count:,}; {len(realised)} sells shown with realised P&L)"
            if realised
            else f"Transactions ({account.trade_count:,})",
            className="subhead",
        ),
        transactions_table(account),
    ]
