"""A backtest's results table: one row per book (and the benchmarks), each figure with its 95%
interval, and the notes a reader needs beside it (training data, what was not computed, the method).

Pure functions of the stored results dict (:mod:`floor.backtest.results`). Results stored before
the statistics were computed have no ``statistics``, ``training_data`` or ``pairwise``: their rows
show the plain figures and "—" where a statistic would be.
"""

from __future__ import annotations

from collections.abc import Callable

from dash import html

from dashboard.backtest_charts import benchmarks
from floor.backtest.records import book_label
from floor.money import MINUS

NONE = "—"
TOO_SHORT = "too short"

# (header, what it means: the header's tooltip)
COLUMNS = [
    ("", ""),
    ("return", "total return over the span; below it, its 95% interval"),
    ("model cost", "what the book's model calls cost"),
    ("Sharpe", "annualised at 252 sessions a year; below it, its 95% interval"),
    ("excess over SPY", "return above SPY bought and held; below it, its 95% interval"),
    ("PSR", "probabilistic Sharpe ratio: the chance that the true Sharpe is above zero"),
    ("DSR", "deflated Sharpe ratio: the PSR against the best Sharpe luck alone gives among these books"),
    ("max drawdown", "the largest fall from a running peak"),
    ("trades", "fills over the span"),
]


def signed_percent(value: float, digits: int = 2) -> str:
    return f"{value * 100:+.{digits}f}%".replace("-", MINUS)


def ratio(value: float) -> str:
    return f"{value:.2f}".replace("-", MINUS)


def chance(value: float) -> str:
    return f"{value * 100:.0f}%"


def _interval_percent(value: float) -> str:
    return signed_percent(value, 1)


def _figure(value: float, shown: Callable[[float], str], toned: bool) -> html.Span:
    tone = ("gain" if value > 0.00005 else "loss" if value < -0.00005 else "flat") if toned else ""
    return html.Span(shown(value), className=f"figure {tone}".strip())


def estimate(
    stat: dict | None, shown: Callable[[float], str], bound: Callable[[float], str], *, toned: bool = False
) -> list:
    """A figure and, below it, its 95% interval; only the figure when the interval is not known."""
    if not stat or stat.get("value") is None:
        return [NONE]
    value = _figure(stat["value"], shown, toned)
    low, high = stat.get("low"), stat.get("high")
    if low is None or high is None:
        return [value]
    return [value, html.Span(f"{bound(low)} to {bound(high)}", className="interval", title="95% interval")]


def _plain(value: float | None, shown: Callable[[float], str], *, toned: bool = False) -> list:
    return [NONE] if value is None else [_figure(value, shown, toned)]


def too_short(reason: str | None) -> html.Span:
    return html.Span(TOO_SHORT, className="too-short", title=reason or "too few sessions for this statistic")


def _reaches(training: dict) -> str:
    cutoff = training.get("cutoff")
    return f"runs to {cutoff}, after" if cutoff else "runs past"


def training_mark(training: dict | None, start: str) -> html.Span | None:
    """The row's mark when its model may have been trained on the span it trades: inside, or unknown."""
    if not training or training.get("inside") is False:
        return None
    model = training.get("model") or "the model"
    if training.get("inside") is True:
        return html.Span(
            "inside the model's training data",
            className="badge inside",
            title=f"{model}'s training data {_reaches(training)} this backtest's start ({start}): "
            "it may know what happened next",
        )
    return html.Span(
        "cutoff unknown",
        className="badge unknown",
        title=f"{model}'s training cutoff is not known: it may have seen this span",
    )


def _figures(row: dict) -> list[list]:
    """The statistic cells of a row (return, Sharpe, excess over SPY, PSR, DSR), each a cell's children."""
    stats = row.get("statistics")
    plain_return = _plain(row.get("return"), signed_percent, toned=True)
    if stats is None:  # stored before the statistics were computed
        return [plain_return, _plain(row.get("sharpe"), ratio), [NONE], [NONE], [NONE]]
    if stats.get("too_short"):
        reason = stats["too_short"]
        return [[*plain_return, too_short(reason)], *([too_short(reason)] for _ in range(4))]
    return [
        estimate(stats["return"], signed_percent, _interval_percent, toned=True)
        if stats.get("return")
        else plain_return,
        estimate(stats.get("sharpe"), ratio, ratio),
        estimate(stats.get("excess_return"), signed_percent, _interval_percent, toned=True),
        _plain(stats.get("psr"), chance),
        _plain(stats.get("dsr"), chance),
    ]


def _row(name_cell: list, row: dict, *, cost: str, trades: str, classes: str, name: str) -> html.Tr:
    ret, sharpe, excess, psr, dsr = _figures(row)
    drawdown = NONE if row.get("max_drawdown") is None else f"{row['max_drawdown'] * 100:.2f}%"
    cells = [name_cell, ret, [cost], sharpe, excess, psr, dsr, [drawdown], [trades]]
    # Each cell carries its column's name: on a phone a row is a card of labelled figures.
    return html.Tr(
        [html.Td(c, **{"data-label": header}) for c, (header, _) in zip(cells, COLUMNS, strict=True)],
        className=classes,
        **{"data-row": name},
    )


def results_table(results: dict) -> html.Div:
    """Every book's row, then the benchmarks', in a box that scrolls sideways by itself."""
    seeds = results.get("seeds") or 1
    start = results.get("start", "")
    rows = []
    for trader in results.get("traders", []):
        name = book_label(trader, seeds)
        mark = training_mark(trader.get("training_data"), start)
        name_cell = [
            html.Div(name, className="book-name"),
            *([html.Div(trader["model"], className="model")] if trader.get("model") else []),
            *([mark] if mark is not None else []),
        ]
        cost = NONE if trader.get("cost") is None else f"${trader['cost']:,.4f}"
        inside = (trader.get("training_data") or {}).get("inside")
        classes = "book" + (" inside-training" if inside is True else "")
        trades = f"{trader.get('trades', 0):,}"
        rows.append(_row(name_cell, trader, cost=cost, trades=trades, classes=classes, name=name))
    for name, benchmark in benchmarks(results):
        name_cell = [html.Div(name, className="book-name")]
        rows.append(_row(name_cell, benchmark, cost="", trades="", classes="benchmark", name=name))
    header = html.Tr([html.Th(h, title=tip or None) for h, tip in COLUMNS])
    table = html.Table([html.Thead(header), html.Tbody(rows)], className="grid backtest-results")
    return html.Div(table, className="table-wrap")


def results_notes(results: dict) -> list:
    """What the table cannot say in a cell: training data inside the span, what was not computed, how."""
    start = results.get("start", "")
    notes = []
    seen: set[str] = set()
    for trader in results.get("traders", []):
        training = trader.get("training_data") or {}
        model = training.get("model") or trader.get("model") or "the model"
        if model in seen or training.get("inside") is False or not training:
            continue
        seen.add(model)
        if training.get("inside") is True:
            notes.append(
                html.Div(
                    [
                        html.Span("inside the model's training data", className="badge inside"),
                        f" {model}'s training data {_reaches(training)} this backtest's start ({start}): "
                        "it may know what happened next, so read its rows as hindsight.",
                    ],
                    className="note training",
                )
            )
        else:
            notes.append(
                html.Div(
                    [
                        html.Span("cutoff unknown", className="badge unknown"),
                        f" {model}'s training cutoff is not known: whether it saw this span cannot be told.",
                    ],
                    className="note training",
                )
            )
    traders = results.get("traders", [])
    if traders and all(t.get("statistics") is None for t in traders):
        notes.append(
            html.Div(
                "Intervals, excess returns over SPY, PSR and DSR were not computed for this backtest "
                "(its results were stored before they were): read small differences as noise.",
                className="note not-computed",
            )
        )
    if results.get("method"):
        notes.append(html.Div(results["method"], className="note method"))
    return notes
