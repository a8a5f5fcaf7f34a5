"""The read model: every account, positions with average cost and recent trades, priced by one rule."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from floor.ledger.trades import buy
from floor.market import Quote
from floor.market.cache import store_quotes
from floor.portfolio.read_model import read_accounts
from floor.portfolio.valuation import position_rows, record_snapshots, snapshot_rows
from floor.quality import check_cycle_data
from floor.runs.cycles import start_cycle
from tests.fixed_prices import SetPrices
from tests.valued_floor import MARKET, trade_three_cycles

D = Decimal


def test_a_traded_floor_read_outside_a_cycle(floor):
    trade_three_cycles(floor)
    views = read_accounts(floor, MARKET)
    assert [v.trader for v in views] == ["Warren", "George", "Ray", "Cathie"]
    warren = views[0]
    # 10 AAPL at 100.20 (1,002.00), 5 sold at 109.78: 501.00 of cost left; priced at cycle 3's 99.
    (aapl,) = warren.holdings
    assert (aapl.symbol, aapl.shares, aapl.cost, aapl.average_cost) == ("AAPL", 5, D("501.00"), D("100.20"))
    assert (aapl.price, aapl.price_source) == (D("99"), "cached")
    assert (aapl.market_value, aapl.unrealised, aapl.unrealised_pct) == (D("495.00"), D("-6.00"), D("-1.20"))
    assert aapl.weight_pct == D("4.93")  # 495 / 10,041.90
    assert (warren.cash, warren.holdings_value, warren.value) == (D("9546.90"), D("495.00"), D("10041.90"))
    assert (warren.profit_loss, warren.profit_loss_pct) == (D("41.90"), D("0.42"))
    buy_, sell = warren.transactions
    assert (buy_.side, buy_.total, buy_.realised, buy_.rationale) == ("buy", D("1002.00"), None, "cheap")
    assert (sell.side, sell.total, sell.realised) == ("sell", D("548.90"), D("47.90"))  # 548.90 - 501.00
    assert warren.realised == D("47.90") and warren.trade_count == 2
    assert (warren.win_rate.wins, warren.win_rate.closed) == (1, 1)
    assert warren.unpriced == () and warren.shares == {"AAPL": 5}
    george = views[1]
    assert (george.value, george.holdings, george.transactions, george.trade_count) == (
        D("10000.00"),
        (),
        (),
        0,
    )
    assert george.win_rate.rate is None


def test_inside_a_cycle_the_cycles_prices_count(floor):
    trade_three_cycles(floor)
    # Cycle 2 priced AAPL at 110: inside it Warren's 5 shares are worth 550.00.
    (warren,) = read_accounts(floor, MARKET, 2, traders=["Warren"])
    assert warren.holdings[0].price_source == "cycle" and warren.value == D("10096.90")
    assert warren.cycle_id == 2


def test_only_the_newest_transactions_unless_all_are_asked_for(floor):
    trade_three_cycles(floor)
    assert [t.side for t in read_accounts(floor, MARKET, recent=1)[0].transactions] == ["sell"]
    assert [t.side for t in read_accounts(floor, MARKET, recent=None)[0].transactions] == ["buy", "sell"]
    assert read_accounts(floor, MARKET, recent=0)[0].trade_count == 2


def test_prices_of_another_source_never_count(floor):
    at = datetime(2026, 11, 2, 15, tzinfo=UTC)
    buy(floor, "Ray", "KO", 3, "staples", SetPrices({"KO": "60"}), idempotency_key="r1")  # 180.36 at 60.12
    store_quotes(floor, [Quote("KO", D("61"), at, "other-market", fetched_at=at)])
    ray = read_accounts(floor, MARKET, traders=["Ray"])[0]
    (ko,) = ray.holdings
    assert ko.missing and ko.price is None and ray.unpriced == ("KO",)
    assert (ko.market_value, ko.unrealised) == (D("180.36"), D("0.00"))  # valued at cost
    assert ray.value == D("10000.00")  # cash 9,819.64 + 180.36 at cost
    store_quotes(floor, [Quote("KO", D("62"), at, MARKET, fetched_at=at)])
    store_quotes(floor, [Quote("KO", D("63"), at, MARKET, fetched_at=at)])  # same time, later row wins
    (ko,) = read_accounts(floor, MARKET, traders=["Ray"])[0].holdings
    assert (ko.price, ko.price_source, ko.market_value) == (D("63"), "cached", D("189.00"))


def test_a_holding_the_cycle_did_not_price_is_valued_at_cost_flagged_and_passes_the_checks(floor):
    buy(floor, "Cathie", "COIN", 7, "crypto", SetPrices({"COIN": "200"}), idempotency_key="c1")
    at = datetime(2026, 11, 2, 15, tzinfo=UTC)
    cycle_id = start_cycle(floor, forced=True, flow_run_id=None)
    store_quotes(floor, [Quote("AAPL", D("100.1234"), at, MARKET)], cycle_id)
    buy(floor, "Warren", "AAPL", 3, "x", SetPrices({"AAPL": "100.1234"}), idempotency_key="w1")
    views = read_accounts(floor, MARKET, cycle_id)
    cathie = views[3]
    assert cathie.unpriced == ("COIN",) and cathie.value == D("10000.00")  # 1,402.80 at cost
    record_snapshots(floor, views, cycle_id=cycle_id, taken_at=at)
    rows = {r["trader"]: r for r in snapshot_rows(floor, cycle_id)}
    assert rows["Cathie"]["positions"] == [
        {"symbol": "COIN", "shares": 7, "price": None, "value": D("1402.80")}
    ]
    assert rows["Warren"]["holdings_value"] == D("300.37")  # cents(3 x 100.1234)
    prices = [{"symbol": "AAPL", "price": D("100.1234"), "as_of": at}]
    report = check_cycle_data(prices, position_rows(floor), list(rows.values()))
    assert report.success, report.failure_summary()


def test_floor_report_shows_positions_and_flags_a_holding_without_a_price(floor):
    from floor.portfolio.reports import account_reports, format_report

    trade_three_cycles(floor)
    buy(floor, "Ray", "KO", 3, "staples", SetPrices({"KO": "60"}), idempotency_key="r1")
    warren, ray = (r for r in account_reports(floor, MARKET) if r["name"] in ("Warren", "Ray"))
    assert warren["positions"][0] == {
        "symbol": "AAPL",
        "shares": 5,
        "average_cost": 100.2,
        "price": 99.0,
        "price_source": "cached",
        "market_value": 495.0,
        "unrealised": -6.0,
        "unrealised_pct": -1.2,
        "weight_pct": 4.93,
    }
    assert [t["realised"] for t in warren["transactions"]] == [None, 47.9]
    text = format_report(warren)
    assert "AAPL        5 @ $100.20, now $99.00, value $495.00, P&L −$6.00 (−1.20%), 4.93% of value" in text
    assert "sell     5 AAPL   @ $109.78 = $548.90, realised +$47.90" in text
    assert ray["unpriced"] == ["KO"] and ray["positions"][0]["price"] is None
    text = format_report(ray)
    assert "NO PRICE (valued at cost)" in text and "no cached price for KO: counted at cost" in text
    assert [r["name"] for r in account_reports(floor, MARKET, "ray")] == ["Ray"]
