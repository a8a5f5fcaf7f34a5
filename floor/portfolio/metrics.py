"""Performance metrics of a portfolio's value over time, and a buy-and-hold benchmark.

Pure functions over plain numbers (floats at this edge: these feed tables and charts, never the
ledger). Returns are simple period returns between consecutive valuations; ratios are annualised
by the number of periods per year the history itself shows (see :func:`periods_per_year`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from floor.money import buy_fill

SECONDS_PER_YEAR = 365.25 * 24 * 3600
MIN_SPAN_TO_ANNUALISE = 24 * 3600  # below a day of history, a yearly figure means nothing


def period_returns(values: Sequence[float]) -> np.ndarray:
    """Simple returns between consecutive values: v[i] / v[i-1] - 1 (empty for fewer than two)."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return np.empty(0)
    return v[1:] / v[:-1] - 1.0


def total_return(start: float, end: float) -> float | None:
    """end / start - 1, or None when there is no starting value."""
    return end / start - 1.0 if start else None


def periods_per_year(epoch_seconds: Sequence[float]) -> float | None:
    """How many periods a year the timestamps show, or None for less than a day of history."""
    t = np.asarray(epoch_seconds, dtype=float)
    if t.size < 2:
        return None
    span = float(t[-1] - t[0])
    if span < MIN_SPAN_TO_ANNUALISE:
        return None
    return (t.size - 1) * SECONDS_PER_YEAR / span


def _scale(per_year: float | None) -> float:
    return math.sqrt(per_year) if per_year else 1.0


def sharpe_ratio(returns: Sequence[float], per_year: float | None = None) -> float | None:
    """Mean over sample standard deviation of the returns (risk-free rate 0), times sqrt(per_year).

    None when it is undefined: fewer than two returns, or returns that never vary.
    """
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return None
    std = float(r.std(ddof=1))
    if std <= 1e-15:
        return None
    return float(r.mean()) / std * _scale(per_year)


def sortino_ratio(returns: Sequence[float], per_year: float | None = None) -> float | None:
    """Mean return over downside deviation (root mean square of the negative returns, target 0).

    None for fewer than two returns or when no return was negative (no downside to divide by).
    """
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    if downside <= 1e-15:
        return None
    return float(r.mean()) / downside * _scale(per_year)


def max_drawdown(values: Sequence[float]) -> float:
    """The largest fall from a running peak, as a fraction of that peak (0.25 = fell 25%)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(v)
    return float(np.max(1.0 - v / peaks))


@dataclass(frozen=True)
class WinRate:
    wins: int
    closed: int

    @property
    def rate(self) -> float | None:
        return self.wins / self.closed if self.closed else None


def win_rate(trades: Iterable[dict]) -> WinRate:
    """Share of sells that fetched more per share than the position's average cost.

    ``trades`` in time order, each with ``side``, ``symbol``, ``quantity`` and ``price`` (the
    execution price). Average cost follows the ledger's method: buys add their cost, a sell
    removes cost in proportion to the shares sold.
    """
    shares: dict[str, int] = {}
    cost: dict[str, float] = {}
    wins = closed = 0
    for t in trades:
        symbol, quantity, price = t["symbol"], int(t["quantity"]), float(t["price"])
        held = shares.get(symbol, 0)
        if t["side"] == "buy":
            shares[symbol] = held + quantity
            cost[symbol] = cost.get(symbol, 0.0) + quantity * price
            continue
        if held <= 0:
            continue  # a sell of shares bought before this history began: no cost to compare
        average = cost[symbol] / held
        closed += 1
        wins += price > average
        sold = min(quantity, held)
        shares[symbol] = held - sold
        cost[symbol] = cost[symbol] * (held - sold) / held
    return WinRate(wins, closed)


def buy_and_hold(prices: Sequence[float], initial_cash: Decimal) -> list[float]:
    """Value over time of putting ``initial_cash`` into one symbol at the first price and holding.

    Bought like a trader would: whole shares at the first price plus the floor's buy spread, the
    rest kept as cash.
    """
    if not prices:
        return []
    fill = buy_fill(Decimal(repr(float(prices[0]))))
    shares = int(initial_cash // fill)
    cash = float(initial_cash - shares * fill)
    return [cash + shares * float(p) for p in prices]


def equal_weight(prices: dict[str, Sequence[float]], initial_cash: Decimal) -> list[float]:
    """Value over time of splitting ``initial_cash`` equally over every symbol at its first price
    and holding (whole shares plus the buy spread, the rest kept as cash), like :func:`buy_and_hold`."""
    if not prices:
        return []
    share = initial_cash / len(prices)
    cash = float(initial_cash)
    held: list[tuple[int, Sequence[float]]] = []
    for series in prices.values():
        fill = buy_fill(Decimal(repr(float(series[0]))))
        shares = int(share // fill)
        cash -= float(shares * fill)
        held.append((shares, series))
    length = min(len(series) for series in prices.values())
    return [cash + sum(shares * float(series[i]) for shares, series in held) for i in range(length)]


def downsample(x: Sequence[float], y: Sequence[float], max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` of a series for a chart, keeping each bucket's low and high.

    The series is cut into ``max_points // 2`` buckets of consecutive points; each keeps its
    minimum and maximum (in time order), so peaks and drawdowns survive. The first and last
    points are always kept.
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    if max_points < 4:
        raise ValueError("downsample needs max_points of at least 4")
    if xs.size <= max_points:
        return xs, ys
    buckets = (max_points - 2) // 2
    edges = np.unique(np.linspace(1, xs.size - 1, buckets + 1).astype(int))
    starts, sizes = edges[:-1], np.diff(edges)
    owner = np.repeat(np.arange(starts.size), sizes)  # the bucket of each inner point
    inner = ys[1 : xs.size - 1]
    keep = [np.array([0, xs.size - 1])]
    for reduce in (np.minimum, np.maximum):
        extreme = np.repeat(reduce.reduceat(inner, starts - 1), sizes)
        hits = np.flatnonzero(inner == extreme)
        _, first = np.unique(owner[hits], return_index=True)  # first extreme point of each bucket
        keep.append(hits[first] + 1)
    index = np.unique(np.concatenate(keep))
    return xs[index], ys[index]
