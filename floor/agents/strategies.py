"""The offline traders' rules: four investing styles as pure functions of prices and holdings.

Each style reads a portfolio (cash, shares held, current prices) and daily closes, and returns the
orders its persona would place this turn. Nothing here touches a database, a tool or a model: the
offline strategy model feeds these functions what its tools returned and turns the orders into
tool calls. Same inputs, same orders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from floor.market.universe import Category, symbols_in
from floor.money import BUY_SPREAD, SELL_SPREAD

Side = Literal["buy", "sell"]
Closes = Sequence[float | Decimal]
STYLES = ("value", "bold", "risk_parity", "crypto_momentum")
TURN_KINDS = ("trade", "rebalance")
MAX_ORDERS = 6
WATCHLIST_SIZE = 10
# Orders are sized from the history's last close, but fill at the cycle's price; the slack keeps a
# buy sized to the last dollar from being rejected over a few cents of difference.
CASH_MARGIN = Decimal("0.01")

C = Category
_WATCHLISTS: dict[str, tuple[tuple[Category, ...], tuple[str, ...]]] = {
    "value": ((C.LARGE_CAP,), ("BRK.B", "JNJ", "KO", "PG", "MSFT", "AAPL", "JPM", "V", "WMT", "UNH")),
    "bold": (
        (C.BROAD_ETF, C.SECTOR_ETF, C.BOND_ETF, C.GOLD_ETF),
        ("SPY", "QQQ", "IWM", "EEM", "XLE", "XLF", "XLK", "TLT", "GLD", "DBC"),
    ),
    "risk_parity": (
        (C.BROAD_ETF, C.SECTOR_ETF, C.BOND_ETF, C.GOLD_ETF),
        ("SPY", "EFA", "EEM", "TLT", "IEF", "TIP", "GLD", "DBC", "XLE", "XLU"),
    ),
    "crypto_momentum": (
        (C.CRYPTO_STOCK, C.CRYPTO_ETF, C.INNOVATION),
        ("COIN", "MSTR", "MARA", "HOOD", "IBIT", "ETHA", "TSLA", "PLTR", "SHOP", "ARKK"),
    ),
}


@dataclass(frozen=True)
class PortfolioView:
    """What a trader knows of its account at the start of a turn.

    Attributes:
        cash: Cash available.
        holdings: symbol -> whole shares held.
        prices: symbol -> current price per share (symbols without a price are left alone).
        average_costs: symbol -> average cost per share paid, when known (for stops).
    """

    cash: Decimal
    holdings: dict[str, int]
    prices: dict[str, Decimal]
    average_costs: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Order:
    """One order a style wants placed: whole shares, with the sentence that explains it."""

    side: Side
    symbol: str
    quantity: int
    rationale: str


def watchlist(style: str) -> list[str]:
    """The symbols ``style`` researches every turn (at most ``WATCHLIST_SIZE``), in a fixed order."""
    if style not in _WATCHLISTS:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    categories, preferred = _WATCHLISTS[style]
    allowed = set(symbols_in(*categories))
    return [s for s in preferred if s in allowed][:WATCHLIST_SIZE]


def plan_orders(style: str, turn: str, view: PortfolioView, histories: Mapping[str, Closes]) -> list[Order]:
    """The orders ``style`` places this turn, sells first, at most ``MAX_ORDERS``.

    Args:
        style: One of ``STYLES``.
        turn: "trade" (look for new opportunities) or "rebalance" (review what is held).
        view: Cash, holdings and prices at the start of the turn.
        histories: symbol -> daily closes, oldest first.

    Returns:
        Affordable orders in whole shares that never sell more than is held.
    """
    if style not in _RULES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    if turn not in TURN_KINDS:
        raise ValueError(f"turn must be one of {TURN_KINDS}, got {turn!r}")
    closes = {s: [float(c) for c in cs if float(c) > 0] for s, cs in histories.items()}
    book = _Book(view)
    _RULES[style](book, turn, closes)
    return [o for o in book.orders if o.side == "sell"] + [o for o in book.orders if o.side == "buy"]


# --- statistics on closes (floats: they rank and weigh, they never count money) ---


def _momentum(closes: list[float], days: int) -> float | None:
    return closes[-1] / closes[-1 - days] - 1 if len(closes) > days else None


def _pstdev(values: list[float]) -> float:
    """Population standard deviation in floats (``statistics.pstdev`` sums in exact fractions: a
    twentieth of an offline turn)."""
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))


def _volatility(closes: list[float], window: int = 60) -> float | None:
    tail = closes[-(window + 1) :]
    returns = [b / a - 1 for a, b in zip(tail, tail[1:], strict=False)]
    if len(returns) < 10:
        return None
    vol = _pstdev(returns)
    return vol if vol > 0 else None


def _versus_average(closes: list[float], window: int = 60) -> tuple[float, float] | None:
    """(last close / average - 1, z-score of the last close) over ``window`` closes."""
    tail = closes[-window:]
    if len(tail) < 20:
        return None
    mean, spread = math.fsum(tail) / len(tail), _pstdev(tail)
    return tail[-1] / mean - 1, (tail[-1] - mean) / spread if spread > 0 else 0.0


class _Book:
    """The account as it will be after the orders planned so far: keeps every order affordable."""

    def __init__(self, view: PortfolioView) -> None:
        self.cash = view.cash
        self.held = {s: q for s, q in view.holdings.items() if q > 0}
        self.prices = {s: p for s, p in view.prices.items() if p > 0}
        self.costs = view.average_costs
        self.start_value = self.value()
        self.orders: list[Order] = []

    def value(self) -> Decimal:
        return self.cash + sum((self.worth(s) for s in self.held), Decimal(0))

    def worth(self, symbol: str) -> Decimal:
        return self.held.get(symbol, 0) * self.prices.get(symbol, Decimal(0))

    def weight(self, symbol: str) -> float:
        return float(self.worth(symbol) / self.start_value) if self.start_value > 0 else 0.0

    def sell(self, symbol: str, quantity: int, rationale: str) -> None:
        quantity = min(quantity, self.held.get(symbol, 0))
        if quantity < 1 or symbol not in self.prices or len(self.orders) >= MAX_ORDERS:
            return
        self.held[symbol] -= quantity
        self.cash += quantity * self.prices[symbol] * SELL_SPREAD * (1 - CASH_MARGIN)
        self.orders.append(Order("sell", symbol, quantity, rationale))

    def buy(self, symbol: str, amount: Decimal, rationale: str, reserve: Decimal = Decimal(0)) -> None:
        """Buy as many whole shares as ``amount`` pays for, keeping ``reserve`` in cash."""
        if symbol not in self.prices or len(self.orders) >= MAX_ORDERS:
            return
        unit = self.prices[symbol] * BUY_SPREAD * (1 + CASH_MARGIN)
        spend = min(amount, self.cash - reserve)
        quantity = int((spend / unit).to_integral_value(rounding=ROUND_FLOOR)) if spend > 0 else 0
        if quantity < 1:
            return
        self.cash -= quantity * unit
        self.held[symbol] = self.held.get(symbol, 0) + quantity
        self.orders.append(Order("buy", symbol, quantity, rationale))


# --- the four styles ---

VALUE_DISCOUNT, VALUE_Z, VALUE_RICH = -0.05, -1.0, 0.25
VALUE_POSITION, VALUE_MAX_POSITION, VALUE_CASH_BUFFER = Decimal("0.15"), 0.30, Decimal("0.10")


def _value(book: _Book, turn: str, closes: dict[str, list[float]]) -> None:
    if turn == "rebalance":
        for symbol in sorted(book.held):
            stats = _versus_average(closes.get(symbol, []))
            if stats and stats[0] >= VALUE_RICH:
                why = f"{symbol} trades {stats[0]:.0%} above its 60-day average, well past fair value; "
                book.sell(symbol, max(1, book.held[symbol] // 2), why + "taking half off the table.")
            elif book.weight(symbol) > VALUE_MAX_POSITION:
                excess = book.worth(symbol) - VALUE_POSITION * book.start_value
                why = f"{symbol} grew past {VALUE_MAX_POSITION:.0%} of the portfolio; trimming concentration."
                book.sell(symbol, int(excess / book.prices[symbol]), why)
        return
    candidates = []
    for symbol in watchlist("value"):
        stats = _versus_average(closes.get(symbol, []))
        if stats and book.weight(symbol) < float(VALUE_POSITION):
            candidates.append((stats[1], symbol, stats[0]))
    candidates.sort()
    cheap = [c for c in candidates if c[2] <= VALUE_DISCOUNT or c[0] <= VALUE_Z]
    invested = 1 - float(book.cash / book.start_value) if book.start_value > 0 else 1.0
    if not cheap and invested < 0.5 and candidates and candidates[0][0] < 0:
        cheap = candidates[:1]  # mostly in cash: start with the cheapest name relative to its own range
    reserve = VALUE_CASH_BUFFER * book.start_value
    for z, symbol, discount in cheap[:3]:
        target = VALUE_POSITION * book.start_value - book.worth(symbol)
        why = f"{symbol} is a quality business trading {-discount:.1%} below its 60-day average "
        book.buy(
            symbol,
            target,
            why + f"(z-score {z:.1f}); buying at a discount to hold for the long term.",
            reserve,
        )


BOLD_STOP, BOLD_TAKE_PROFIT, BOLD_MOVE_DAYS, BOLD_SECOND_BET_Z = -0.08, 0.15, 10, -1.5
BOLD_SLICE, BOLD_MAX_BETS = Decimal("0.60"), 2


def _bold(book: _Book, turn: str, closes: dict[str, list[float]]) -> None:
    for symbol in sorted(book.held):  # cut losers every turn: being wrong is fine, staying wrong is not
        price, cost = book.prices.get(symbol), book.costs.get(symbol)
        change = (
            float(price / cost - 1) if price and cost else _momentum(closes.get(symbol, []), BOLD_MOVE_DAYS)
        )
        if change is not None and change <= BOLD_STOP:
            why = f"{symbol} moved {change:.1%} against my bet, past my stop; cutting the whole position."
            book.sell(symbol, book.held[symbol], why)
        elif turn == "rebalance" and change is not None and change >= BOLD_TAKE_PROFIT:
            why = f"{symbol} is up {change:.1%}: the overreaction has corrected, so I take the profit."
            book.sell(symbol, book.held[symbol], why)
    open_bets = [s for s, q in book.held.items() if q > 0]
    if turn != "trade" or len(open_bets) >= BOLD_MAX_BETS:
        return
    moves = []
    for symbol in watchlist("bold"):
        series, vol = closes.get(symbol, []), _volatility(closes.get(symbol, []))
        move = _momentum(series, BOLD_MOVE_DAYS)
        if symbol not in book.held and move is not None and vol:
            moves.append((move / (vol * math.sqrt(BOLD_MOVE_DAYS)), symbol, move))
    moves.sort()
    picks = [m for i, m in enumerate(moves) if m[0] < 0 and (i == 0 or m[0] <= BOLD_SECOND_BET_Z)]
    picks = picks[: BOLD_MAX_BETS - len(open_bets)]
    stake = BOLD_SLICE * book.cash / len(picks) if picks else Decimal(0)
    for z, symbol, move in picks:
        why = f"{symbol} fell {-move:.1%} in {BOLD_MOVE_DAYS} days ({z:.1f} sigma), an overreaction; "
        book.buy(symbol, stake, why + "betting big on the rebound.")


PARITY_DRIFT, PARITY_CASH = 0.02, Decimal("0.02")


def risk_parity_targets(closes: Mapping[str, Closes], symbols: Sequence[str]) -> dict[str, float]:
    """Weights ∝ 1 / volatility of daily returns (about 60 days) over ``symbols`` that have history."""
    inverse = {}
    for symbol in symbols:
        vol = _volatility([float(c) for c in closes.get(symbol, [])])
        if vol:
            inverse[symbol] = 1 / vol
    total = sum(inverse.values())
    return {s: v / total for s, v in inverse.items()}


def _risk_parity(book: _Book, turn: str, closes: dict[str, list[float]]) -> None:
    weights = risk_parity_targets(closes, watchlist("risk_parity"))
    if not weights:
        return
    investable = book.start_value * (1 - PARITY_CASH)
    gaps = {}  # symbol -> (current - target) in dollars; positive is overweight
    for symbol in sorted(set(weights) | set(book.held)):
        if symbol in book.prices:
            gaps[symbol] = book.worth(symbol) - investable * Decimal(repr(weights.get(symbol, 0.0)))
    band = Decimal(repr(PARITY_DRIFT)) * book.start_value

    def why(symbol: str, action: str) -> str:
        if symbol not in weights:
            return f"{symbol} is not part of my risk-parity allocation; selling it."
        now, target = book.weight(symbol), weights[symbol]
        return (
            f"{symbol} is {now:.1%} of the portfolio against an inverse-volatility target of {target:.1%}; "
            + action
        )

    if turn == "rebalance":
        for symbol, gap in sorted(gaps.items(), key=lambda kv: (-kv[1], kv[0])):
            if gap > band:
                book.sell(symbol, max(1, int(gap / book.prices[symbol])), why(symbol, "selling down to it."))
    for symbol, gap in sorted(gaps.items(), key=lambda kv: (kv[1], kv[0])):
        if gap < -band and symbol in weights:
            book.buy(symbol, -gap, why(symbol, "buying up to it."))


MOMENTUM_DAYS, MOMENTUM_MIN = 20, 0.0
CRYPTO_POSITION, CRYPTO_MAX_POSITION, CRYPTO_CASH = Decimal("0.20"), 0.30, Decimal("0.05")


def _crypto_momentum(book: _Book, turn: str, closes: dict[str, list[float]]) -> None:
    for symbol in sorted(book.held):
        momentum = _momentum(closes.get(symbol, []), MOMENTUM_DAYS)
        if momentum is not None and momentum < 0:
            why = f"{symbol}'s {MOMENTUM_DAYS}-day momentum turned negative ({momentum:.1%}); "
            book.sell(symbol, book.held[symbol], why + "the trend is broken, so I exit.")
        elif turn == "rebalance" and book.weight(symbol) > CRYPTO_MAX_POSITION:
            excess = book.worth(symbol) - CRYPTO_POSITION * book.start_value
            why = (
                f"{symbol} outgrew {CRYPTO_MAX_POSITION:.0%} of the portfolio; trimming the winner to target."
            )
            book.sell(symbol, int(excess / book.prices[symbol]), why)
    if turn != "trade":
        return
    ranked = []
    for symbol in watchlist("crypto_momentum"):
        momentum = _momentum(closes.get(symbol, []), MOMENTUM_DAYS)
        if momentum is not None and momentum > MOMENTUM_MIN:
            ranked.append((-momentum, symbol))
    ranked.sort()
    reserve = CRYPTO_CASH * book.start_value
    for negative, symbol in ranked[:3]:
        target = CRYPTO_POSITION * book.start_value - book.worth(symbol)
        why = f"{symbol} has strong {MOMENTUM_DAYS}-day momentum (+{-negative:.1%}); "
        book.buy(symbol, target, why + "riding disruptive innovation while the trend is intact.", reserve)


_RULES: dict[str, Callable[[_Book, str, dict[str, list[float]]], None]] = {
    "value": _value,
    "bold": _bold,
    "risk_parity": _risk_parity,
    "crypto_momentum": _crypto_momentum,
}
