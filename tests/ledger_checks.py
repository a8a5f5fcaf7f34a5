"""Checks that a trader's books add up, shared by tests of every layer."""

from __future__ import annotations

from decimal import Decimal


def assert_books_balance(report: dict) -> None:
    """cash = 10,000 - sum of buys + sum of sells (at recorded prices), holdings = bought - sold."""
    cash = Decimal("10000.00")
    held: dict[str, int] = {}
    for t in report["transactions"]:
        sign = 1 if t["side"] == "buy" else -1
        assert t["quantity"] > 0 and t["price"] > 0
        cash -= sign * Decimal(str(t["price"])) * t["quantity"]
        held[t["symbol"]] = held.get(t["symbol"], 0) + sign * t["quantity"]
    assert Decimal(str(report["cash"])) == cash, report["name"]
    assert report["holdings"] == {s: n for s, n in held.items() if n}, report["name"]
    assert report["cash"] >= 0 and all(n > 0 for n in report["holdings"].values())
