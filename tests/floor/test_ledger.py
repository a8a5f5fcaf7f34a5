"""The ledger against a real Postgres: fills, rejections that change nothing, idempotency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from floor.errors import TradeRejected
from floor.ledger import trades as ledger
from floor.market import Quote
from floor.schema import accounts, positions, transactions


class FixedPrices:
    """A price source with set prices: the outside world of the ledger under test."""

    def __init__(self, prices: dict[str, str]) -> None:
        self.prices = {s: Decimal(p) for s, p in prices.items()}

    def knows(self, symbol: str) -> bool:
        return symbol in self.prices or symbol == "NOPX"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def quote(self, symbol: str) -> Quote | None:
        if symbol not in self.prices:
            return None
        return Quote(symbol, self.prices[symbol], datetime.now(UTC), "fixed")


PRICES = FixedPrices({"AAPL": "100.00", "MSFT": "333.33", "BRK.B": "420.10"})


def state(engine, trader="Warren"):
    """Everything a trade may change, to compare before and after."""
    with engine.connect() as conn:
        account = conn.execute(select(accounts).where(accounts.c.name == trader)).one()
        held = conn.execute(
            select(positions.c.symbol, positions.c.shares, positions.c.cost)
            .where(positions.c.account_id == account.id)
            .order_by(positions.c.symbol)
        ).all()
        count = conn.execute(select(text("count(*)")).select_from(transactions)).scalar_one()
    return account.cash, tuple(map(tuple, held)), count


def test_buy_fills_at_price_plus_spread_in_cents(floor):
    trade = ledger.buy(floor, "Warren", "aapl", 10, "cheap", PRICES, idempotency_key="k1")
    assert (trade.symbol, trade.quantity, trade.price, trade.total) == (
        "AAPL",
        10,
        Decimal("100.20"),
        Decimal("1002.00"),
    )
    assert state(floor) == (Decimal("8998.00"), (("AAPL", 10, Decimal("1002.00")),), 1)


def test_sell_fills_at_price_minus_spread_and_keeps_average_cost(floor):
    ledger.buy(floor, "Warren", "MSFT", 9, "x", PRICES, idempotency_key="b")
    trade = ledger.sell(floor, "Warren", "MSFT", 3, "trim", PRICES, idempotency_key="s")
    assert trade.price == Decimal("332.66")  # 333.33 x 0.998 = 332.663... -> cents
    cash, held, _ = state(floor)
    bought = Decimal("334.00") * 9  # 333.33 x 1.002 = 333.99666 -> 334.00
    assert cash == Decimal("10000.00") - bought + Decimal("332.66") * 3
    assert held == (("MSFT", 6, Decimal("2004.00")),)


def test_selling_everything_removes_the_position(floor):
    ledger.buy(floor, "Warren", "AAPL", 2, "x", PRICES, idempotency_key="b")
    ledger.sell(floor, "Warren", "AAPL", 2, "x", PRICES, idempotency_key="s")
    assert state(floor)[1] == ()


@pytest.mark.parametrize(
    ("symbol", "quantity", "reason"),
    [
        ("AAPL", 0, "at least 1"),
        ("AAPL", -5, "at least 1"),
        ("AAPL", 1.5, "whole number"),
        ("AAPL", "ten", "whole number"),
        ("AAPL", True, "whole number"),
        ("AAPL", float("nan"), "whole number"),
        ("AAPL", 10**12, "absurd"),
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("AAPL'; DROP TABLE accounts;--", 1, "not a ticker"),
        ("ZZZZ", 1, "unknown symbol"),
        ("NOPX", 1, "no price"),
        ("AAPL", 100, "not enough cash"),
        (None, 1, "empty"),
    ],
)
def test_rejected_buys_change_nothing(floor, symbol, quantity, reason):
    before = state(floor)
    with pytest.raises(TradeRejected, match=reason):
        ledger.buy(floor, "Warren", symbol, quantity, "r", PRICES, idempotency_key="k")
    assert state(floor) == before


def test_overselling_is_rejected_and_changes_nothing(floor):
    ledger.buy(floor, "Warren", "AAPL", 3, "x", PRICES, idempotency_key="b")
    before = state(floor)
    with pytest.raises(TradeRejected, match="holds 3 shares"):
        ledger.sell(floor, "Warren", "AAPL", 4, "x", PRICES, idempotency_key="s")
    with pytest.raises(TradeRejected, match="holds 0 shares"):
        ledger.sell(floor, "Warren", "MSFT", 1, "x", PRICES, idempotency_key="s2")
    assert state(floor) == before


def test_same_key_replays_the_first_result_and_writes_nothing(floor):
    first = ledger.buy(floor, "Warren", "AAPL", 5, "x", PRICES, idempotency_key="same")
    before = state(floor)
    again = ledger.buy(floor, "Warren", "AAPL", 5, "x", FixedPrices({"AAPL": "1.00"}), idempotency_key="same")
    assert again.duplicate and again.id == first.id and again.price == first.price
    assert state(floor) == before


def test_same_key_with_other_parameters_is_an_error(floor):
    ledger.buy(floor, "Warren", "AAPL", 5, "x", PRICES, idempotency_key="same")
    before = state(floor)
    with pytest.raises(TradeRejected, match="already used"):
        ledger.buy(floor, "Warren", "AAPL", 6, "x", PRICES, idempotency_key="same")
    assert state(floor) == before


def test_keys_are_per_account(floor):
    ledger.buy(floor, "Warren", "AAPL", 1, "x", PRICES, idempotency_key="shared")
    other = ledger.buy(floor, "George", "AAPL", 1, "x", PRICES, idempotency_key="shared")
    assert not other.duplicate


def test_database_refuses_negative_cash_and_shares_on_its_own(floor):
    with pytest.raises(IntegrityError), floor.begin() as conn:
        conn.execute(accounts.update().where(accounts.c.name == "Warren").values(cash=Decimal("-0.01")))
    ledger.buy(floor, "Warren", "AAPL", 1, "x", PRICES, idempotency_key="b")
    with pytest.raises(IntegrityError), floor.begin() as conn:
        conn.execute(positions.update().values(shares=-1))


def test_concurrent_orders_never_overspend(floor):
    # 30 threads each try to buy 5 AAPL ($501 each): only 19 fit in $10,000.
    def order(i: int) -> bool:
        try:
            ledger.buy(floor, "Warren", "AAPL", 5, "race", PRICES, idempotency_key=f"race-{i}")
            return True
        except TradeRejected:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        filled = sum(pool.map(order, range(30)))
    cash, held, count = state(floor)
    assert filled == 19 == count
    assert cash == Decimal("10000.00") - 19 * Decimal("501.00")
    assert held == (("AAPL", 95, 19 * Decimal("501.00")),)
