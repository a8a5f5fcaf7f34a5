"""Account summaries for the dashboard carry exactly the figures ``floor report --json`` prints."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from floor.ledger import buy
from floor.market import Quote
from floor.market.simulated import SimulatedMarket
from floor.portfolio_summaries import account_summaries, newest_prices
from floor.price_cache import PriceBook, store_quotes
from floor.reports import account_reports
from tests.valued_floor import trade_three_cycles

SHARED = ("name", "lastname", "model", "strategy", "cash", "holdings", "portfolio_value", "profit_loss")


class StillMarket(SimulatedMarket):
    """The simulated universe with prices that do not move while a test compares two reads."""

    def quotes(self, symbols, at):
        return super().quotes(symbols, datetime(2026, 11, 2, 15, tzinfo=UTC))


def assert_same_as_report(engine, recent: int = 10, market=None) -> list[dict]:
    market = market or SimulatedMarket()
    reports = account_reports(engine, market)
    summaries = account_summaries(engine, market, recent=recent)
    assert [s["name"] for s in summaries] == [r["name"] for r in reports]
    for summary, report in zip(summaries, reports, strict=True):
        assert {k: summary[k] for k in SHARED} == {k: report[k] for k in SHARED}
        assert summary["transactions"] == report["transactions"][-recent:]
        assert summary["trade_count"] == len(report["transactions"])
    return summaries


def test_summaries_match_the_report_of_a_traded_floor(floor):
    trade_three_cycles(floor)
    summaries = assert_same_as_report(floor)
    warren = summaries[0]
    assert warren["portfolio_value"] == 10041.90 and warren["holdings"] == {"AAPL": 5}
    assert (warren["win_rate"].wins, warren["win_rate"].closed) == (1, 1)
    assert summaries[1]["win_rate"].rate is None


def test_only_the_newest_transactions_are_carried(floor):
    trade_three_cycles(floor)
    summaries = assert_same_as_report(floor, recent=1)
    assert [t["side"] for t in summaries[0]["transactions"]] == ["sell"]


def test_newest_price_breaks_ties_by_id_and_falls_back_to_the_market(floor):
    at = datetime(2026, 11, 2, 15, tzinfo=UTC)
    store_quotes(floor, [Quote("KO", Decimal("60"), at, "hand", fetched_at=at)])
    store_quotes(floor, [Quote("KO", Decimal("61"), at, "hand", fetched_at=at)])  # same time, later row
    assert newest_prices(floor, {"KO", "MSFT"}) == {"KO": Decimal("61.0000")}
    # A position in a symbol never cached is valued at the market's price, as in the report.
    book = PriceBook(floor, SimulatedMarket())
    buy(floor, "Ray", "KO", 3, "staples", book, idempotency_key="r1")
    with floor.begin() as conn:  # a fill from before fills named their price, whose price is gone
        conn.exec_driver_sql("UPDATE transactions SET price_id = NULL WHERE symbol = 'KO'")
        conn.exec_driver_sql("DELETE FROM prices WHERE symbol = 'KO'")
    assert newest_prices(floor, {"KO"}) == {}
    ray = assert_same_as_report(floor, market=StillMarket())[2]
    ko = StillMarket().quotes(["KO"], datetime.now(UTC))["KO"].price
    assert Decimal(str(ray["portfolio_value"])) == Decimal(str(ray["cash"])) + (3 * ko).quantize(
        Decimal("0.01")
    )


@pytest.mark.parametrize("symbols", [set(), {"NOPE"}])
def test_newest_prices_of_nothing_cached(floor, symbols):
    assert newest_prices(floor, symbols) == {}
