"""A backtest's two charts, from its stored results: every book's equity beside the benchmarks, and
who beats whom (the chance that one row's Sharpe is above another's).

Pure functions of the results dict (:mod:`floor.backtest.results`); the page is
:mod:`dashboard.backtests`.
"""

from __future__ import annotations

from dashboard.panels import PALETTE
from dashboard.trader_screen import chart_layout
from floor.backtest.records import book_label

# Benchmarks are grey and broken, so a trader's line never reads as one.
BENCHMARK_STYLES = [
    {"color": "#9aa4ad", "width": 2, "dash": "dash"},
    {"color": "#6e7681", "width": 2, "dash": "dot"},
]
# Diverging around 50%: red where the row is mostly behind, green where it is mostly ahead, and a
# dark middle (close to the page's own panels) where it is a coin toss.
BEATS_COLOURS = [[0.0, "#f85149"], [0.5, "#21262d"], [1.0, "#3fb950"]]
MATRIX_ANNOTATED_ROWS = 16  # past this the cells are too small for their percentages: hover only


def benchmarks(results: dict) -> list[tuple[str, dict]]:
    """The results' benchmarks, SPY first (the stored JSON keeps no order of its own)."""
    found = (results.get("benchmarks") or {}).items()
    return sorted(found, key=lambda item: (not item[0].startswith("SPY"), item[0]))


def _curve(points: list) -> tuple[list[str], list[float]]:
    days = [day for day, _ in points]
    values = [round(float(value), 2) for _, value in points]
    return days, values


def equity_figure(results: dict) -> dict:
    """One line per book (a trader's seeds share its colour), the benchmarks grey and dashed."""
    seeds = results.get("seeds") or 1
    colours: dict[str, str] = {}
    data = []
    for trader in results.get("traders", []):
        if not trader.get("equity"):
            continue
        colour = colours.setdefault(trader["trader"], PALETTE[len(colours) % len(PALETTE)])
        days, values = _curve(trader["equity"])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": book_label(trader, seeds),
                "legendgroup": trader["trader"],
                "x": days,
                "y": values,
                "line": {"color": colour, "width": 1.5},
                "hovertemplate": "%{y:$,.2f}",
            }
        )
    drawn = [(name, b) for name, b in benchmarks(results) if b.get("equity")]
    for i, (name, benchmark) in enumerate(drawn):
        days, values = _curve(benchmark["equity"])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "x": days,
                "y": values,
                "line": BENCHMARK_STYLES[i % len(BENCHMARK_STYLES)],
                "hovertemplate": "%{y:$,.2f}",
            }
        )
    layout = chart_layout(340, legend=True)
    layout["hovermode"] = "x unified"
    layout["legend"] = {"orientation": "h", "y": -0.12, "font": {"color": "#c9d1d9"}}
    layout["hoverlabel"] = {"bgcolor": "#161b22", "bordercolor": "#30363d", "font": {"color": "#e6e6e6"}}
    return {"data": data, "layout": layout}


def beats_text(chance: float | None) -> str:
    """A cell of the matrix as printed on it: a whole percentage, nothing for the diagonal."""
    return "" if chance is None else f"{chance * 100:.0f}%"


def pairwise_figure(pairwise: dict) -> dict:
    """A heatmap of ``beats[i][j]`` = P(Sharpe of row i > Sharpe of column j), each cell annotated."""
    labels = list(pairwise["labels"])
    beats = [[None if v is None else float(v) for v in row] for row in pairwise["beats"]]
    annotated = len(labels) <= MATRIX_ANNOTATED_ROWS
    heatmap = {
        "type": "heatmap",
        "z": beats,
        "x": labels,
        "y": labels,
        "zmin": 0.0,
        "zmax": 1.0,
        "zmid": 0.5,
        "colorscale": BEATS_COLOURS,
        "showscale": False,
        "xgap": 2,
        "ygap": 2,
        "hoverongaps": False,
        "hovertemplate": "P(%{y}'s Sharpe > %{x}'s) = %{z:.0%}<extra></extra>",
    }
    if annotated:
        heatmap["text"] = [[beats_text(v) for v in row] for row in beats]
        heatmap["texttemplate"] = "%{text}"
        heatmap["textfont"] = {"color": "#f0f3f6", "size": 13}
    layout = chart_layout(min(720, 90 + 40 * len(labels)), legend=False)
    layout["margin"] = {"l": 8, "r": 8, "t": 8, "b": 8}
    layout["xaxis"] = {"type": "category", "side": "top", "automargin": True, "showgrid": False}
    layout["yaxis"] = {"type": "category", "autorange": "reversed", "automargin": True, "showgrid": False}
    layout["hoverlabel"] = {"bgcolor": "#161b22", "bordercolor": "#30363d", "font": {"color": "#e6e6e6"}}
    return {"data": [heatmap], "layout": layout}
