"""Data-quality checks with real Great Expectations suites: good data passes, each bad row is named."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from floor.money import cents
from floor.quality import QualityReport, check_cycle_data

AS_OF = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)
PRICES = {"AAPL": Decimal("190.00"), "MSFT": Decimal("333.3333"), "BRK.B": Decimal("420.10")}
HOLDINGS = {"Warren": {"AAPL": 10, "MSFT": 3}, "Ray": {"BRK.B": 2}, "Cathie": {}}
CASH = Decimal("5000.00")


def cycle_data() -> tuple[list[dict], list[dict], list[dict]]:
    """A consistent cycle: Warren's 3 x 333.3333 (999.9999) counts 1,000.00, his holdings 2,900.00."""
    prices = [{"symbol": s, "price": p, "as_of": AS_OF} for s, p in PRICES.items()]
    positions = [
        {"trader": trader, "symbol": symbol, "shares": shares}
        for trader, held in HOLDINGS.items()
        for symbol, shares in held.items()
    ]
    snapshots = []
    for trader, held in HOLDINGS.items():
        priced = [{"symbol": s, "shares": n, "price": PRICES[s]} for s, n in held.items()]
        # The read model's rule: each holding to the cent, the holdings their sum.
        holdings = sum((cents(p["price"] * p["shares"]) for p in priced), Decimal("0.00"))
        snapshots.append(
            {
                "trader": trader,
                "cash": CASH,
                "holdings_value": holdings,
                "portfolio_value": CASH + holdings,
                "positions": priced,
            }
        )
    return prices, positions, snapshots


def failed(report: QualityReport) -> dict[tuple[str, str, str | None], str]:
    return {(r.suite, r.expectation, r.column): r.observed for r in report.failures()}


def snapshot(snapshots: list[dict], trader: str) -> dict:
    return next(s for s in snapshots if s["trader"] == trader)


def test_a_position_without_a_price_counts_at_the_value_it_was_stored_with() -> None:
    prices, positions, snapshots = cycle_data()
    ray = snapshot(snapshots, "Ray")
    ray["positions"] = [{"symbol": "BRK.B", "shares": 2, "price": None, "value": Decimal("800.00")}]
    ray["holdings_value"], ray["portfolio_value"] = Decimal("800.00"), CASH + Decimal("800.00")
    assert check_cycle_data(prices, positions, snapshots).success
    del ray["positions"][0]["value"]  # no price and no value: not recomputable
    assert not check_cycle_data(prices, positions, snapshots).success


def test_consistent_cycle_passes_every_check() -> None:
    # Warren's holdings are 2899.9999 exactly, stored as 2900.00: rounding to the cent is no error.
    report = check_cycle_data(*cycle_data())

    assert report.success, failed(report)
    assert report.failures() == []
    checks = {(r.suite, r.expectation, r.column) for r in report.results}
    assert ("prices", "expect_column_values_to_be_between", "price") in checks
    assert ("positions", "expect_compound_columns_to_be_unique", "trader, symbol") in checks
    assert ("snapshots", "expect_column_values_to_be_between", "value_error") in checks
    assert ("snapshots", "expect_column_values_to_be_between", "holdings_error") in checks
    assert {r.suite for r in report.results} == {"prices", "positions", "snapshots"}


def _price_not_positive(p: list, pos: list, s: list) -> None:
    p[0]["price"] = Decimal("-1.00")
    p[2]["price"] = Decimal("0.00")


def _missing_price(p: list, pos: list, s: list) -> None:
    p[1]["price"] = None


def _duplicate_symbol(p: list, pos: list, s: list) -> None:
    p.append({**p[1], "price": Decimal("334.00")})


def _no_prices(p: list, pos: list, s: list) -> None:
    p.clear()


def _negative_shares(p: list, pos: list, s: list) -> None:
    pos[0]["shares"] = -5


def _fractional_shares(p: list, pos: list, s: list) -> None:
    pos[2]["shares"] = 2.5


def _duplicate_position(p: list, pos: list, s: list) -> None:
    pos.append(dict(pos[1]))


def _negative_cash(p: list, pos: list, s: list) -> None:
    row = snapshot(s, "Warren")  # value stays cash + holdings, so only the cash check may fail
    row["cash"] = Decimal("-10.00")
    row["portfolio_value"] = row["cash"] + row["holdings_value"]


def _value_off_by_a_dollar(p: list, pos: list, s: list) -> None:
    snapshot(s, "Ray")["portfolio_value"] += Decimal("1.00")


def _holdings_truncated_not_rounded(p: list, pos: list, s: list) -> None:
    row = snapshot(s, "Warren")  # 2899.9999 truncated to 2899.99 instead of rounded half up to 2900.00
    row["holdings_value"] = Decimal("2899.99")
    row["portfolio_value"] = row["cash"] + row["holdings_value"]


BETWEEN, NOT_NULL = "expect_column_values_to_be_between", "expect_column_values_to_not_be_null"
HOLDINGS_CHECK = ("snapshots", BETWEEN, "holdings_error")


CASES = [
    (
        _price_not_positive,
        {("prices", BETWEEN, "price"): "2 of 3 rows unexpected: AAPL (price=-1.0), BRK.B (price=0.0)"},
    ),
    (_missing_price, {("prices", NOT_NULL, "price"): "1 of 3 rows unexpected: MSFT (price=missing)"}),
    (
        _duplicate_symbol,
        {("prices", "expect_column_values_to_be_unique", "symbol"): "2 of 4 rows unexpected: MSFT"},
    ),
    (_no_prices, {("prices", "expect_table_row_count_to_be_between", None): "observed 0 rows"}),
    (
        _negative_shares,
        {("positions", BETWEEN, "shares"): "1 of 3 rows unexpected: Warren/AAPL (shares=-5)"},
    ),
    (
        _fractional_shares,
        {
            ("positions", "expect_column_values_to_be_in_type_list", "shares"): (
                "1 of 3 rows unexpected: Ray/BRK.B (shares=2.5)"
            )
        },
    ),
    (
        _duplicate_position,
        {
            ("positions", "expect_compound_columns_to_be_unique", "trader, symbol"): (
                "2 of 4 rows unexpected: Warren/MSFT"
            )
        },
    ),
    (_negative_cash, {("snapshots", BETWEEN, "cash"): "1 of 3 rows unexpected: Warren (cash=-10.0)"}),
    (
        _value_off_by_a_dollar,
        {("snapshots", BETWEEN, "value_error"): "1 of 3 rows unexpected: Ray (value_error=1.0)"},
    ),
    (
        _holdings_truncated_not_rounded,
        {
            HOLDINGS_CHECK: "1 of 3 rows unexpected: Warren (holdings_error=-0.01)",
            ("snapshots", BETWEEN, "value_error"): "1 of 3 rows unexpected: Warren (value_error=-0.01)",
        },
    ),
]


@pytest.mark.parametrize(("spoil", "expected"), CASES, ids=[spoil.__name__.strip("_") for spoil, _ in CASES])
def test_bad_data_fails_the_right_check_and_names_the_row(
    spoil: Callable[[list, list, list], None], expected: dict[tuple[str, str, str | None], str]
) -> None:
    prices, positions, snapshots = cycle_data()
    spoil(prices, positions, snapshots)

    report = check_cycle_data(prices, positions, snapshots)

    assert not report.success
    assert failed(report) == expected


def test_empty_positions_and_snapshots_pass_and_calls_do_not_share_state() -> None:
    prices, _, _ = cycle_data()
    assert not check_cycle_data([], [], []).success  # a failing call first: nothing may leak from it

    report = check_cycle_data(prices, [], [])

    assert report.success, failed(report)
    assert {r.observed for r in report.results if r.suite != "prices"} == {"0 rows ok"}


def test_checks_on_several_threads_at_once_each_see_their_own_data() -> None:
    good = cycle_data()
    bad = cycle_data()
    bad[0][1]["price"] = Decimal("-1.00")
    expected = {True: check_cycle_data(*good), False: check_cycle_data(*bad)}

    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(lambda ok: (ok, check_cycle_data(*(good if ok else bad))), [True, False] * 6))

    assert all(report == expected[ok] for ok, report in reports)
    assert failed(expected[False]) == {
        ("prices", "expect_column_values_to_be_between", "price"): "1 of 3 rows unexpected: MSFT (price=-1.0)"
    }


def test_markdown_has_one_row_per_check() -> None:
    prices, positions, snapshots = cycle_data()
    prices[0]["price"] = Decimal("-1.00")
    report = check_cycle_data(prices, positions, snapshots)

    markdown = report.as_markdown()

    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| suite | check | column | result | observed |"
    assert len(rows) - 1 == len(report.results)
    assert f"{len(report.results) - 1} of {len(report.results)} checks passed" in markdown
    assert "| price | ❌ | 1 of 3 rows unexpected: AAPL (price=-1.0) |" in markdown
    assert "| prices | expect_table_row_count_to_be_between | — | ✅ | observed 3 rows |" in rows


def test_importing_the_module_does_not_import_great_expectations() -> None:
    code = "import sys, floor.quality; sys.exit(bool({'great_expectations', 'pandas'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
