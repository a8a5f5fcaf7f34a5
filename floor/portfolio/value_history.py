"""Every trader's value over time, and a buy-and-hold benchmark, kept current incrementally.

A year of hourly snapshots for dozens of traders is hundreds of thousands of rows; reading them
all on every refresh would make a live view slow. :class:`ValueHistoryCache` reads them once,
then only rows with a higher id. Each read also counts and sums the whole table in the same
database snapshot: if anything other than appends happened (a reset deleted rows, a retried
cycle re-valued its snapshots), the totals disagree and the cache reloads from scratch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from sqlalchemy import Connection, Engine, Float, func, select

from floor.money import INITIAL_CASH
from floor.portfolio.metrics import buy_and_hold
from floor.schema import accounts, prices, snapshots

BENCHMARK_SYMBOL = "SPY"
_FLOAT = Float(precision=53)
_EMPTY = np.empty(0)


@dataclass(frozen=True)
class ValueHistory:
    """Values at each snapshot, oldest first: epoch seconds and dollars (floats, for charts)."""

    times: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.times.size)


EMPTY_HISTORY = ValueHistory(_EMPTY, _EMPTY)


class ValueHistoryCache:
    """Snapshot histories by account and the benchmark's prices by cycle, read incrementally.

    Safe to share between threads; one instance per process that shows histories.
    """

    def __init__(self, initial_cash: Decimal = INITIAL_CASH, symbol: str = BENCHMARK_SYMBOL) -> None:
        self.initial_cash = initial_cash
        self.symbol = symbol
        self._lock = threading.Lock()
        self._clear()
        self._last_price_id = 0
        self._benchmark_prices: dict[int, float] = {}  # cycle id -> first cached price

    def _clear(self) -> None:
        self._last_id = 0
        self._count = 0
        self._sum = Decimal(0)
        self._series: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # account id -> (times, values)
        self._cycle_times: dict[int, float] = {}  # cycle id -> first snapshot time

    def read(self, engine: Engine) -> tuple[dict[str, ValueHistory], ValueHistory]:
        """Every account's history by name (in account order) and the benchmark's history."""
        with self._lock, engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")  # one consistent view
            with conn.begin():
                names = dict(
                    conn.execute(select(accounts.c.id, accounts.c.name).order_by(accounts.c.id)).all()
                )
                self._catch_up(conn)
                self._catch_up_prices(conn)
            histories = {
                name: ValueHistory(*self._series[account_id]) if account_id in self._series else EMPTY_HISTORY
                for account_id, name in names.items()
            }
            return histories, self._benchmark()

    def _catch_up(self, conn: Connection) -> None:
        newer = snapshots.c.id > self._last_id
        total = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(snapshots.c.portfolio_value), 0),
                func.count().filter(newer),
                func.coalesce(func.sum(snapshots.c.portfolio_value).filter(newer), 0),
            )
        ).one()
        count, amount, new_count, new_amount = total
        if (self._count + new_count, self._sum + new_amount) != (count, amount):
            self._clear()  # rows were deleted or rewritten, not only appended
            newer = snapshots.c.id > 0
            new_count, new_amount = count, amount
        if not new_count:
            return
        rows = conn.execute(
            select(
                snapshots.c.id,
                snapshots.c.account_id,
                func.coalesce(snapshots.c.cycle_id, 0),
                func.extract("epoch", snapshots.c.taken_at).cast(_FLOAT),
                snapshots.c.portfolio_value.cast(_FLOAT),
            )
            .where(newer)
            .order_by(snapshots.c.id)
        ).all()
        data = np.array([tuple(r) for r in rows], dtype=float)
        ids, owners, cycles, times, values = data.T
        for account_id in np.unique(owners).astype(int):
            mine = owners == account_id
            old_times, old_values = self._series.get(account_id, (_EMPTY, _EMPTY))
            t = np.concatenate((old_times, times[mine]))
            v = np.concatenate((old_values, values[mine]))
            if t.size > 1 and np.any(np.diff(t) < 0):  # a snapshot dated before an earlier one
                order = np.argsort(t, kind="stable")
                t, v = t[order], v[order]
            self._series[account_id] = (t, v)
        for cycle_id, at in zip(cycles.astype(int), times, strict=True):
            if cycle_id and (cycle_id not in self._cycle_times or at < self._cycle_times[cycle_id]):
                self._cycle_times[cycle_id] = float(at)
        self._last_id = int(ids.max())
        self._count += new_count
        self._sum += new_amount

    def _catch_up_prices(self, conn: Connection) -> None:
        rows = conn.execute(
            select(prices.c.id, prices.c.cycle_id, prices.c.price.cast(_FLOAT))
            .where(
                prices.c.symbol == self.symbol,
                prices.c.cycle_id.is_not(None),
                prices.c.id > self._last_price_id,
            )
            .order_by(prices.c.id)
        ).all()
        for price_id, cycle_id, price in rows:
            self._benchmark_prices.setdefault(cycle_id, price)  # a retried cycle's first price stands
            self._last_price_id = price_id

    def _benchmark(self) -> ValueHistory:
        """Buy-and-hold of the symbol from the first valued cycle, at each valued cycle's price."""
        points = sorted(
            (at, self._benchmark_prices[c])
            for c, at in self._cycle_times.items()
            if c in self._benchmark_prices
        )
        if not points:
            return EMPTY_HISTORY
        times = np.array([p[0] for p in points])
        return ValueHistory(times, np.asarray(buy_and_hold([p[1] for p in points], self.initial_cash)))
