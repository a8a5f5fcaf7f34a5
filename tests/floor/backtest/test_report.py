"""The results table as the terminal and the Prefect artifact show it, from stored results."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

from floor.backtest.records import Backtest, BacktestSpec
from floor.backtest.report import result_rows, results_markdown, results_text

FIGURES = {
    "return": 0.081, "sharpe": 1.1, "sortino": 1.5, "max_drawdown": 0.05, "win_rate": None,
    "closed_trades": 0, "trades": 3, "turnover": 0.5, "cost": 0.0,
}  # fmt: skip
SPY = {"return": 0.02, "sharpe": 0.5, "sortino": 0.7, "max_drawdown": 0.04, "equity": []}


def statistics(days: int = 249, too_short: str | None = None) -> dict:
    interval = too_short is None
    return {
        "days": days,
        "too_short": too_short,
        "return": {"value": 0.081, "low": -0.05 if interval else None, "high": 0.21 if interval else None},
        "sharpe": {"value": 1.1, "low": -0.6 if interval else None, "high": 2.9 if interval else None},
        "excess_return": {
            "value": 0.061,
            "low": -0.1 if interval else None,
            "high": 0.15 if interval else None,
        },
        "psr": 0.83 if interval else None,
        "dsr": 0.41 if interval else None,
        "block_length": 4.2 if interval else None,
    }


RESULTS = {
    "seeds": 1,
    "traders": [
        {"trader": "Warren", "seed": 1, **FIGURES, "statistics": statistics()},
        {"trader": "George", "seed": 1, **FIGURES, "statistics": statistics(5, "5 daily returns; ...")},
    ],
    "benchmarks": {"SPY buy and hold": SPY},
    "pairwise": {"labels": ["Warren", "George"], "beats": [[None, 0.62], [0.38, None]]},
    "method": "95% intervals are percentiles of 2,000 stationary-bootstrap resamples.",
}


def record(results: dict) -> Backtest:
    spec = BacktestSpec(date(2025, 1, 2), date(2025, 12, 31), ("Warren", "George"))
    return Backtest(7, spec, "completed", datetime(2026, 1, 1, tzinfo=UTC), None, None, results, None)


def test_return_sharpe_and_excess_with_their_intervals_psr_and_dsr_beside_the_cost():
    warren, george, spy = result_rows(RESULTS)
    assert warren[:7] == (
        "Warren", "+8.10% [-5.0, +21.0]", "$0.0000", "1.10 [-0.60, 2.90]", "+6.10% [-10.0, +15.0]",
        "0.83", "0.41",
    )  # fmt: skip
    assert george[:7] == ("George", "+8.10% too short (5 of 30)", "$0.0000", "1.10", "+6.10%", "—", "—")
    assert spy[:8] == ("SPY buy and hold", "+2.00%", "", "0.50", "", "", "", "4.00%")


def test_the_terminal_and_the_artifact_show_who_beats_whom_and_the_method():
    text = results_text(record(RESULTS))
    assert "Who beats whom: P(row's Sharpe > column's)" in text
    matrix = text.split("Who beats whom")[1].splitlines()
    assert matrix[2].split() == ["Warren", "—", "0.62"] and matrix[3].split() == ["George", "0.38", "—"]
    assert "stationary-bootstrap" in text and "Too short: fewer than 30 daily returns" in text
    assert "not computed" not in text
    markdown = results_markdown(record(RESULTS))
    assert "| Warren | — | 0.62 |" in markdown and "| George | 0.38 | — |" in markdown
    assert "| Warren | +8.10% [-5.0, +21.0] | $0.0000 | 1.10 [-0.60, 2.90] |" in markdown


def test_results_from_before_intervals_stay_readable():
    old = copy.deepcopy(RESULTS)
    for trader in old["traders"]:
        del trader["statistics"]
    del old["pairwise"], old["method"]
    warren, _, _ = result_rows(old)
    assert warren[1:7] == ("+8.10%", "$0.0000", "1.10", "—", "—", "—")
    text = results_text(record(old))
    assert "Who beats whom" not in text and "predate intervals" in text
    assert "predate intervals" in results_markdown(record(old))


def test_a_span_inside_a_models_training_data_is_marked_and_one_after_it_is_not():
    marked = copy.deepcopy(RESULTS)
    marked["start"] = "2023-03-01"
    marked["traders"][0]["training_data"] = {
        "model": "openai/gpt-4o-mini",
        "cutoff": "2023-10-01",
        "inside": True,
    }
    marked["traders"][1]["training_data"] = {
        "model": "deepseek/deepseek-chat",
        "cutoff": None,
        "inside": None,
    }
    warren, george, _ = result_rows(marked)
    assert (warren[0], george[0]) == ("Warren *", "George ?")
    text = results_text(record(marked))
    assert (
        "* inside the model's training data: openai/gpt-4o-mini was trained on text up to 2023-10-01, "
        "after the span's start (2023-03-01)" in text.replace("\n", " ")
    )
    assert "? training cutoff of deepseek/deepseek-chat unknown" in text.replace("\n", " ")
    assert "inside the model's training data" in results_markdown(record(marked))

    after = copy.deepcopy(marked)
    after["traders"][0]["training_data"]["inside"] = False
    after["traders"][1]["training_data"] = {"model": "offline", "cutoff": None, "inside": False}
    warren, george, _ = result_rows(after)
    assert (warren[0], george[0]) == ("Warren", "George")
    assert "training data" not in results_text(record(after)) and "cutoff" not in results_text(record(after))
