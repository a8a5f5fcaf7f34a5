"""A backtest's results as people read them: one table, for the terminal and the Prefect artifact."""

from __future__ import annotations

from floor.backtest.records import Backtest

COLUMNS = ("", "return", "Sharpe", "Sortino", "max drawdown", "win rate", "trades", "turnover", "model cost")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.2f}%"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def result_rows(results: dict) -> list[tuple[str, ...]]:
    """One row per trader (and seed, when there are several), then the benchmarks."""
    rows = []
    seeds = results.get("seeds", 1)
    for t in results["traders"]:
        name = t["trader"] if seeds == 1 else f"{t['trader']} (seed {t['seed']})"
        win = "—" if t["win_rate"] is None else f"{t['win_rate'] * 100:.0f}% of {t['closed_trades']}"
        rows.append(
            (
                name,
                _pct(t["return"]),
                _ratio(t["sharpe"]),
                _ratio(t["sortino"]),
                "—" if t["max_drawdown"] is None else f"{t['max_drawdown'] * 100:.2f}%",
                win,
                str(t["trades"]),
                f"{t['turnover']:.2f}x",
                f"${t['cost']:.4f}",
            )
        )
    for name, b in results["benchmarks"].items():
        drawdown = "—" if b["max_drawdown"] is None else f"{b['max_drawdown'] * 100:.2f}%"
        rows.append(
            (name, _pct(b["return"]), _ratio(b["sharpe"]), _ratio(b["sortino"]), drawdown, "", "", "", "")
        )
    return rows


def headline(backtest: Backtest) -> str:
    spec = backtest.spec
    label = f" ({spec.label})" if spec.label else ""
    model = f", every trader on {spec.model}" if spec.model else ""
    seeds = f"{spec.seeds} seed{'s' if spec.seeds > 1 else ''}"
    return (
        f"Backtest {backtest.id}{label}: {spec.start} to {spec.end}, {len(backtest.sessions)} sessions, "
        f"{len(spec.traders)} traders x {seeds}{model}: {backtest.status}"
    )


def results_text(backtest: Backtest) -> str:
    """The results as an aligned table for the terminal."""
    lines = [headline(backtest)]
    if backtest.note:
        lines.append(f"Note: {backtest.note}")
    if not backtest.results:
        return "\n".join([*lines, "No results yet: no session has been played."])
    rows = [COLUMNS, *result_rows(backtest.results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.append(
        "Ratios are annualised at 252 sessions a year; benchmarks are bought at the first session's prices "
        "and held. Intervals are not computed yet: read small differences as noise."
    )
    return "\n".join(lines)


def results_markdown(backtest: Backtest) -> str:
    """The results as a markdown table (the flow run's artifact)."""
    lines = [f"### {headline(backtest)}", ""]
    if backtest.note:
        lines += [f"_{backtest.note}_", ""]
    if not backtest.results:
        return "\n".join([*lines, "No session has been played."])
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|")
    for row in result_rows(backtest.results):
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Ratios annualised at 252 sessions a year; benchmarks bought at the first session's prices and held.",
    ]
    return "\n".join(lines)
