"""The offline styles' rules: sensible, affordable, whole-share orders, the same every time."""

from __future__ import annotations

from decimal import Decimal

import pytest

from floor import traders
from floor.agents.strategies import (
    MAX_ORDERS,
    STYLES,
    TURN_KINDS,
    Order,
    PortfolioView,
    plan_orders,
    risk_parity_targets,
    watchlist,
)
from floor.market.universe import BY_SYMBOL, Category
from floor.money import buy_fill, sell_fill


def wave(start: float, drift: float = 0.0, swing: float = 0.005, days: int = 61) -> list[float]:
    """Closes that trend by ``drift`` a day and zig-zag by ``swing``: volatility you can dial."""
    return [round(start * (1 + drift) ** i * (1 + swing * (-1) ** i), 4) for i in range(days)]


def flat_market(style: str) -> dict[str, list[float]]:
    return {s: wave(BY_SYMBOL[s].base_price) for s in watchlist(style)}


def view_of(histories: dict[str, list[float]], cash: str = "10000", **kwargs) -> PortfolioView:
    prices = {s: Decimal(str(closes[-1])) for s, closes in histories.items()}
    return PortfolioView(cash=Decimal(cash), holdings=kwargs.pop("holdings", {}), prices=prices, **kwargs)


def assert_executable(orders: list[Order], view: PortfolioView) -> None:
    """Whole shares, never oversold, sells first, and the buys fit cash plus what the sells bring."""
    assert len(orders) <= MAX_ORDERS
    sides = [o.side for o in orders]
    assert sides == sorted(sides, key=lambda side: side != "sell")
    cash = view.cash
    sold: dict[str, int] = {}
    for order in orders:
        assert isinstance(order.quantity, int) and order.quantity >= 1
        assert order.symbol in view.prices and order.rationale.strip()
        if order.side == "sell":
            sold[order.symbol] = sold.get(order.symbol, 0) + order.quantity
            assert sold[order.symbol] <= view.holdings.get(order.symbol, 0)
            cash += order.quantity * sell_fill(view.prices[order.symbol])
        else:
            cash -= order.quantity * buy_fill(view.prices[order.symbol])
            assert cash >= 0


def test_watchlists_are_small_and_drawn_from_the_right_categories() -> None:
    expected = {
        "value": {Category.LARGE_CAP},
        "bold": {Category.BROAD_ETF, Category.SECTOR_ETF, Category.BOND_ETF, Category.GOLD_ETF},
        "risk_parity": {Category.BROAD_ETF, Category.SECTOR_ETF, Category.BOND_ETF, Category.GOLD_ETF},
        "crypto_momentum": {Category.CRYPTO_STOCK, Category.CRYPTO_ETF, Category.INNOVATION},
    }
    assert set(STYLES) == set(traders.STYLES)
    for style in STYLES:
        symbols = watchlist(style)
        assert 3 <= len(symbols) <= 10 and len(set(symbols)) == len(symbols)
        assert {BY_SYMBOL[s].category for s in symbols} <= expected[style]
    assert {"TLT", "GLD", "SPY"} <= set(watchlist("risk_parity"))
    assert {"COIN", "IBIT"} <= set(watchlist("crypto_momentum"))


def test_unknown_style_or_turn_is_refused() -> None:
    with pytest.raises(ValueError):
        watchlist("yolo")
    with pytest.raises(ValueError):
        plan_orders("yolo", "trade", view_of({}), {})
    with pytest.raises(ValueError):
        plan_orders("value", "panic", view_of({}), {})


def mixed_market(style: str) -> dict[str, list[float]]:
    """A market with a winner, a loser and quiet names, so every style finds something to do."""
    histories = {}
    for i, symbol in enumerate(watchlist(style)):
        drift = (-0.004, 0.006, 0.0, -0.001, 0.002)[i % 5]
        histories[symbol] = wave(BY_SYMBOL[symbol].base_price, drift, 0.004 + 0.002 * (i % 3))
    return histories


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("turn", TURN_KINDS)
@pytest.mark.parametrize("cash", ["10000", "35.50", "0"])
def test_orders_are_executable_from_cash_or_from_holdings(style: str, turn: str, cash: str) -> None:
    histories = mixed_market(style)
    symbols = list(histories)
    for holdings in ({}, {symbols[0]: 7, symbols[1]: 300, symbols[-1]: 1}):
        view = view_of(histories, cash, holdings=holdings)
        assert_executable(plan_orders(style, turn, view, histories), view)


@pytest.mark.parametrize("style", STYLES)
def test_same_inputs_give_same_orders_whatever_the_dict_order(style: str) -> None:
    histories = mixed_market(style)
    view = view_of(histories, holdings={watchlist(style)[0]: 5})
    reversed_histories = dict(reversed(list(histories.items())))
    reversed_view = PortfolioView(view.cash, dict(view.holdings), dict(reversed(list(view.prices.items()))))
    for turn in TURN_KINDS:
        first = plan_orders(style, turn, view, histories)
        assert first == plan_orders(style, turn, view, histories)
        assert first == plan_orders(style, turn, reversed_view, reversed_histories)


def test_value_buys_a_quality_name_well_below_its_average_and_keeps_a_cash_buffer() -> None:
    histories = flat_market("value")
    histories["KO"] = wave(62.0)[:50] + [round(62.0 * 0.85, 2)] * 11  # KO dropped 15% and stayed there
    view = view_of(histories)
    orders = plan_orders("value", "trade", view, histories)
    assert [(o.side, o.symbol) for o in orders] == [("buy", "KO")]
    spent = orders[0].quantity * buy_fill(view.prices["KO"])
    assert Decimal("1000") < spent <= Decimal("1500")  # one position is about 15% of the portfolio
    assert "below its 60-day average" in orders[0].rationale


def test_value_holds_when_nothing_is_cheap_and_trims_what_got_expensive() -> None:
    histories = flat_market("value")
    assert plan_orders("value", "trade", view_of(histories), histories) == []
    histories["MSFT"] = wave(410.0)[:50] + [410.0 * 1.6] * 11
    view = view_of(histories, cash="1000", holdings={"MSFT": 10, "KO": 20})
    orders = plan_orders("value", "rebalance", view, histories)
    assert [(o.side, o.symbol, o.quantity) for o in orders] == [("sell", "MSFT", 5)]


def test_bold_bets_big_against_the_biggest_fall() -> None:
    histories = flat_market("bold")
    histories["XLE"] = wave(90.0, swing=0.003)[:50] + [round(90.0 * (1 - 0.012 * k), 2) for k in range(1, 12)]
    view = view_of(histories)
    orders = plan_orders("bold", "trade", view, histories)
    assert [(o.side, o.symbol) for o in orders] == [("buy", "XLE")]
    assert orders[0].quantity * buy_fill(view.prices["XLE"]) >= Decimal("5000")  # a large slice of cash


def test_bold_cuts_a_position_past_its_stop() -> None:
    histories = flat_market("bold")
    price = Decimal(str(histories["GLD"][-1]))
    view = view_of(histories, cash="100", holdings={"GLD": 10}, average_costs={"GLD": price * Decimal("1.2")})
    orders = plan_orders("bold", "trade", view, histories)
    assert orders[0] == Order("sell", "GLD", 10, orders[0].rationale) and "stop" in orders[0].rationale


def weights(holdings: dict[str, int], view: PortfolioView, cash: Decimal) -> dict[str, float]:
    worth = {s: q * view.prices[s] for s, q in holdings.items()}
    total = cash + sum(worth.values())
    return {s: float(v / total) for s, v in worth.items()}


def test_risk_parity_rebalance_moves_towards_inverse_volatility_targets() -> None:
    histories = {
        s: wave(BY_SYMBOL[s].base_price, swing=0.001 + 0.0015 * i)
        for i, s in enumerate(watchlist("risk_parity"))
    }
    targets = risk_parity_targets(histories, watchlist("risk_parity"))
    assert targets["SPY"] > targets["EFA"] > targets["XLU"]  # calmer series get more weight
    assert sum(targets.values()) == pytest.approx(1.0)
    view = view_of(histories, cash="200", holdings={"SPY": 18})  # nearly everything in one ETF

    def distance(holdings: dict[str, int], cash: Decimal) -> float:
        now = weights(holdings, view, cash)
        return sum(abs(now.get(s, 0.0) - t) for s, t in targets.items())

    orders = plan_orders("risk_parity", "rebalance", view, histories)
    assert_executable(orders, view)
    assert orders[0].side == "sell" and orders[0].symbol == "SPY"
    held, cash = dict(view.holdings), view.cash
    for o in orders:
        sign = 1 if o.side == "buy" else -1
        held[o.symbol] = held.get(o.symbol, 0) + sign * o.quantity
        cash -= sign * o.quantity * (buy_fill if o.side == "buy" else sell_fill)(view.prices[o.symbol])
    assert distance(held, cash) < distance(view.holdings, view.cash) / 2
    bought = [o.symbol for o in orders if o.side == "buy"]
    assert bought[0] == max((s for s in targets if s != "SPY"), key=lambda s: targets[s])


def test_risk_parity_ignores_drift_inside_its_band_and_never_sells_on_a_trade_turn() -> None:
    histories = {s: wave(BY_SYMBOL[s].base_price, swing=0.002) for s in watchlist("risk_parity")}
    targets = risk_parity_targets(histories, watchlist("risk_parity"))
    prices = {s: Decimal(str(c[-1])) for s, c in histories.items()}
    holdings = {s: round(100_000 * w / float(prices[s])) for s, w in targets.items()}
    view = PortfolioView(Decimal("2000"), holdings, prices)
    assert plan_orders("risk_parity", "rebalance", view, histories) == []
    lopsided = PortfolioView(Decimal("2000"), {"TLT": 1000}, prices)
    assert all(o.side == "buy" for o in plan_orders("risk_parity", "trade", lopsided, histories))


def test_crypto_momentum_buys_the_strongest_and_exits_broken_trends() -> None:
    histories = flat_market("crypto_momentum")
    histories["COIN"] = wave(230.0, drift=0.01)
    histories["PLTR"] = wave(40.0, drift=0.005)
    histories["MARA"] = wave(20.0, drift=-0.01)
    view = view_of(histories, holdings={"MARA": 50})
    orders = plan_orders("crypto_momentum", "trade", view, histories)
    assert [(o.side, o.symbol) for o in orders] == [("sell", "MARA"), ("buy", "COIN"), ("buy", "PLTR")]
    assert orders[0].quantity == 50 and "momentum turned negative" in orders[0].rationale
    rebalance = plan_orders("crypto_momentum", "rebalance", view, histories)
    assert [(o.side, o.symbol) for o in rebalance] == [("sell", "MARA")]


def test_symbols_without_a_price_are_left_alone() -> None:
    histories = mixed_market("crypto_momentum")
    view = view_of(histories, holdings={"ZZZZ": 10})
    for style in STYLES:
        for turn in TURN_KINDS:
            assert all(o.symbol != "ZZZZ" for o in plan_orders(style, turn, view, histories))
