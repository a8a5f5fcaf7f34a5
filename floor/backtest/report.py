"""A backtest's results as people read them: one table and a "who beats whom" matrix, for the terminal
and the Prefect artifact."""

from __future__ import annotations

import textwrap

from floor.backtest.records import Backtest, book_label
from floor.portfolio.uncertainty import MIN_RETURNS

# What decides who is better first (a table too wide for its screen scrolls from the right).
COLUMNS = (
    "", "return [95%]", "model cost", "Sharpe [95%]", "excess over SPY [95%]", "PSR", "DSR",
    "max drawdown", "Sortino", "win rate", "trades", "turnover",
)  # fmt: skip
TEXT_WIDTH = 110  # the notes under the terminal table are wrapped to this
FOOTER = (
    "Ratios are annualised at 252 sessions a year; benchmarks are bought at the first session's prices "
    "and held."
)
NO_STATISTICS = "These results predate intervals: read small differences as noise."
PSR_AND_DSR = (
    "PSR: the probability that the true Sharpe is above 0; DSR: the same, against the best Sharpe that "
    "this many books would reach by luck."
)
MATRIX_TITLE = "Who beats whom: P(row's Sharpe > column's), on the sessions both played"
INSIDE, UNKNOWN = " *", " ?"  # after a trader's name: the span is inside its model's training data; unknown


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.2f}%"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _probability(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _with_interval(estimate: dict | None, percent: bool) -> str:
    """``+8.10% [-5.0, +21.0]`` or ``1.10 [-0.60, 2.90]``; the value alone when there is no interval."""
    if estimate is None:
        return "—"
    if percent:
        shown = _pct(estimate["value"])
        bounds = (estimate["low"], estimate["high"])
        interval = None if None in bounds else f"[{bounds[0] * 100:+.1f}, {bounds[1] * 100:+.1f}]"
    else:
        shown = _ratio(estimate["value"])
        interval = None if estimate["low"] is None else f"[{estimate['low']:.2f}, {estimate['high']:.2f}]"
    return shown if interval is None else f"{shown} {interval}"


def _statistics_cells(t: dict) -> tuple[str, str, str, str, str]:
    """Return and Sharpe with their intervals, the excess over SPY, PSR and DSR (or why there are none)."""
    stats = t.get("statistics")
    if stats is None:  # a backtest summarised before intervals were computed
        return _pct(t["return"]), _ratio(t["sharpe"]), "—", "—", "—"
    returned = _with_interval(stats["return"], percent=True)
    if stats["too_short"]:
        returned += f" too short ({stats['days']} of {MIN_RETURNS})"
    return (
        returned,
        _with_interval(stats["sharpe"], percent=False),
        _with_interval(stats["excess_return"], percent=True),
        _probability(stats["psr"]),
        _probability(stats["dsr"]),
    )


def result_rows(results: dict) -> list[tuple[str, ...]]:
    """One row per trader (and seed, when there are several), then the benchmarks."""
    rows = []
    seeds = results.get("seeds", 1)
    for t in results["traders"]:
        win = "—" if t["win_rate"] is None else f"{t['win_rate'] * 100:.0f}% of {t['closed_trades']}"
        returned, sharpe, excess, psr, dsr = _statistics_cells(t)
        rows.append(
            (
                book_label(t, seeds) + _training_suffix(t),
                returned,
                f"${t['cost']:.4f}",
                sharpe,
                excess,
                psr,
                dsr,
                "—" if t["max_drawdown"] is None else f"{t['max_drawdown'] * 100:.2f}%",
                _ratio(t["sortino"]),
                win,
                str(t["trades"]),
                f"{t['turnover']:.2f}x",
            )
        )
    for name, b in results["benchmarks"].items():
        drawdown = "—" if b["max_drawdown"] is None else f"{b['max_drawdown'] * 100:.2f}%"
        rows.append(
            (
                name,
                _pct(b["return"]),
                "",
                _ratio(b["sharpe"]),
                "",
                "",
                "",
                drawdown,
                _ratio(b["sortino"]),
                "",
                "",
                "",
            )
        )
    return rows


def _training_suffix(t: dict) -> str:
    mark = t.get("training_data")
    if not mark or not mark.get("model"):
        return ""
    return INSIDE if mark["inside"] else UNKNOWN if mark["inside"] is None else ""


def training_notes(results: dict) -> list[str]:
    """One note per model whose training data reaches into the span, or whose cutoff is unknown."""
    notes = {}
    for t in results["traders"]:
        mark = t.get("training_data") or {}
        if mark.get("model") and mark["inside"]:
            notes[mark["model"]] = (
                f"{INSIDE.strip()} inside the model's training data: {mark['model']} was trained on text "
                f"up to {mark['cutoff']}, after the span's start ({results['start']}); it may know what "
                "happened next."
            )
        elif mark.get("model") and mark["inside"] is None:
            notes[mark["model"]] = (
                f"{UNKNOWN.strip()} training cutoff of {mark['model']} unknown: whether it saw the span "
                "cannot be told (set MODEL_CUTOFFS)."
            )
    return list(notes.values())


def beat_rows(results: dict) -> list[tuple[str, ...]]:
    """The pairwise matrix as rows (a header first), or none when the results have no matrix."""
    pairwise = results.get("pairwise")
    if not pairwise or len(pairwise["labels"]) < 2:
        return []
    labels = pairwise["labels"]
    header = ("", *labels)
    return [header] + [
        (label, *(_probability(p) for p in row)) for label, row in zip(labels, pairwise["beats"], strict=True)
    ]


def footnotes(results: dict) -> list[str]:
    """What the figures are: the method of the intervals, and what "too short" means where it shows."""
    method = results.get("method")
    if method is None:
        return [*training_notes(results), f"{FOOTER} {NO_STATISTICS}"]
    notes = [*training_notes(results), FOOTER, method, PSR_AND_DSR]
    if any((t.get("statistics") or {}).get("too_short") for t in results["traders"]):
        notes.append(f"Too short: fewer than {MIN_RETURNS} daily returns, so no interval, PSR or DSR.")
    return notes


def headline(backtest: Backtest) -> str:
    spec = backtest.spec
    label = f" ({spec.label})" if spec.label else ""
    model = f", every trader on {spec.model}" if spec.model else ""
    seeds = f"{spec.seeds} seed{'s' if spec.seeds > 1 else ''}"
    return (
        f"Backtest {backtest.id}{label}: {spec.start} to {spec.end}, {len(backtest.sessions)} sessions, "
        f"{len(spec.traders)} traders x {seeds}{model}: {backtest.status}"
    )


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as text: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            [row[0].ljust(widths[0])]
            + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        ).rstrip()
        for row in rows
    ]


def results_text(backtest: Backtest) -> str:
    """The results as an aligned table for the terminal, then who beats whom."""
    lines = [headline(backtest)]
    if backtest.note:
        lines.append(f"Note: {backtest.note}")
    if not backtest.results:
        return "\n".join([*lines, "No results yet: no session has been played."])
    lines += _aligned([COLUMNS, *result_rows(backtest.results)])
    matrix = beat_rows(backtest.results)
    if matrix:
        lines += ["", MATRIX_TITLE + ":", *_aligned(matrix)]
    notes = [textwrap.fill(note, TEXT_WIDTH) for note in footnotes(backtest.results)]
    return "\n".join([*lines, "", *notes])


def _markdown_table(rows: list[tuple[str, ...]]) -> list[str]:
    header, *body = rows
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        *("| " + " | ".join(row) + " |" for row in body),
    ]


def results_markdown(backtest: Backtest) -> str:
    """The results as markdown tables (the flow run's artifact)."""
    lines = [f"### {headline(backtest)}", ""]
    if backtest.note:
        lines += [f"_{backtest.note}_", ""]
    if not backtest.results:
        return "\n".join([*lines, "No session has been played."])
    lines += _markdown_table([COLUMNS, *result_rows(backtest.results)])
    matrix = beat_rows(backtest.results)
    if matrix:
        lines += ["", f"**{MATRIX_TITLE}**", "", *_markdown_table(matrix)]
    return "\n".join([*lines, "", *(f"{note}  " for note in footnotes(backtest.results))]).rstrip()
