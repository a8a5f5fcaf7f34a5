"""How long a backtest's statistics take: intervals, PSR, DSR and every pair, for a year of books.

Synthetic daily returns (i.i.d. normal, a year of 250 sessions) for 4, 8 and 12 books and SPY,
through ``floor.portfolio.uncertainty`` as ``floor.backtest.results`` calls it: one
``trader_statistics`` per book (2,000 stationary-bootstrap resamples each) and the who-beats-whom
matrix. The first figure includes importing arch and scipy (a fresh process pays it once); then
the median of --repeat runs, the per-series cache cleared before each.

    python bench/backtest_statistics.py [--repeat 5] [--books 4 8 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAYS = 250


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--books", type=int, nargs="+", default=[4, 8, 12])
    args = parser.parse_args()

    started = time.perf_counter()
    import numpy as np

    from floor.portfolio import uncertainty as u

    rng = np.random.default_rng(7)
    spy = rng.normal(0.0005, 0.01, DAYS)

    def one(n: int) -> float:
        books = [rng.normal(0.0008, 0.012, DAYS) for _ in range(n)]
        u._statistics.cache_clear()
        began = time.perf_counter()
        trials = [u.per_day_sharpe(r) for r in books]
        for r in books:
            u.trader_statistics(r, spy, trials)
        u.beat_matrix([dict(enumerate(r)) for r in books])
        return time.perf_counter() - began

    first = one(args.books[0]) + (time.perf_counter() - started)
    print(f"cpus: {os.cpu_count()}; a year ({DAYS} sessions) of daily returns per book")
    print(f"  first call, {args.books[0]} books, imports included: {first:.2f} s")
    for n in args.books:
        runs = [one(n) for _ in range(args.repeat)]
        pairs = n * (n - 1) // 2
        print(f"  {n:2d} books ({pairs} pairs): {statistics.median(runs):.2f} s median of {args.repeat} "
              f"({', '.join(f'{r:.2f}' for r in runs)})")  # fmt: skip


if __name__ == "__main__":
    main()
