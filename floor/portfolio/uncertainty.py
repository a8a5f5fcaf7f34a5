"""How sure a figure is: bootstrap intervals, probabilistic and deflated Sharpe, who beats whom.

Pure functions over DAILY simple returns (one per session, in order; floats, like
:mod:`floor.portfolio.metrics`, whose point figures they reuse). The resampling is
:class:`arch.bootstrap.StationaryBootstrap` (Politis & Romano 1994): blocks of random length keep
the returns' short-run dependence, with the mean block length of Politis & White (2004) as
:func:`arch.bootstrap.optimal_block_length` estimates it. Every bootstrap draws from a fixed seed,
so the same series always gives the same numbers. Below :data:`MIN_RETURNS` returns, or where a
statistic is undefined (returns that never vary), the uncertain figures are None, never a number.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from floor.portfolio import metrics

DAYS_PER_YEAR = 252
CONFIDENCE = 0.95
REPS = 2000  # resamples per bootstrap: the 2.5% and 97.5% percentiles settle to about +-0.01 of a Sharpe
SEED = 20120401
# Below 30 daily returns (six weeks of sessions) nothing here is worth printing: a Sharpe interval
# spans several units either way, the skewness and kurtosis in the PSR's denominator are mostly
# noise, and the block-length estimate (lags up to sqrt(n) + 5) has only a handful of blocks to
# work with. 30 is also where the normal approximation behind the PSR starts to be taken seriously.
MIN_RETURNS = 30
FLAT = 1e-15  # a standard deviation this small is zero (as in metrics.sharpe_ratio)

METHOD = (
    f"{CONFIDENCE:.0%} intervals are percentiles of {REPS:,} stationary-bootstrap resamples of the "
    "daily returns (Politis & Romano 1994; mean block length by Politis & White 2004, at least 1 day; "
    "SPY resampled on the same days), PSR is the probabilistic Sharpe ratio against 0 "
    "(Bailey & López de Prado 2012), and DSR deflates it for every book of the backtest tried "
    f"(Bailey & López de Prado 2014); none below {MIN_RETURNS} daily returns."
)


@dataclass(frozen=True)
class Estimate:
    """A figure and its interval (``low``/``high`` None when there is none to give)."""

    value: float | None
    low: float | None = None
    high: float | None = None

    def to_json(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class TraderStatistics:
    """One trader's figures with their uncertainty, over ``days`` daily returns."""

    days: int
    too_short: str | None  # why there are no intervals, PSR or DSR; None when there are
    total_return: Estimate  # over the whole span, compounded
    sharpe: Estimate  # annualised at DAYS_PER_YEAR, risk-free rate 0
    excess_return: Estimate | None  # total return minus the benchmark's; None without one
    psr: float | None
    dsr: float | None
    block_length: float | None  # the bootstrap's mean block length, in days

    def to_json(self) -> dict:
        return {
            "days": self.days,
            "too_short": self.too_short,
            "return": self.total_return.to_json(),
            "sharpe": self.sharpe.to_json(),
            "excess_return": self.excess_return.to_json() if self.excess_return else None,
            "psr": self.psr,
            "dsr": self.dsr,
            "block_length": self.block_length,
        }


def too_short(days: int) -> str | None:
    """Why ``days`` daily returns are too few for intervals, or None when they are enough."""
    if days >= MIN_RETURNS:
        return None
    return f"{days} daily return{'' if days == 1 else 's'}; the statistics need at least {MIN_RETURNS}"


def per_day_sharpe(returns: Sequence[float]) -> float | None:
    """Mean over sample standard deviation, not annualised (None when the returns never vary)."""
    return metrics.sharpe_ratio(returns)


def _compound(returns: np.ndarray) -> np.ndarray | float:
    """Total return of simple returns along the last axis."""
    return np.expm1(np.log1p(returns).sum(axis=-1))


def _sharpes(resampled: np.ndarray) -> np.ndarray:
    """Per-day Sharpe of each row (NaN for a row that never varies)."""
    std = resampled.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > FLAT, resampled.mean(axis=1) / std, np.nan)


def _interval(draws: np.ndarray, value: float | None) -> Estimate:
    kept = draws[np.isfinite(draws)]
    if value is None or kept.size == 0:
        return Estimate(value)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(kept, [tail, 100 - tail])
    return Estimate(value, float(low), float(high))


def block_length(*series: Sequence[float]) -> float | None:
    """The mean block length for a joint bootstrap of the series: the average of each varying
    series' optimal stationary-bootstrap length (Politis & White), at least 1; None if none varies."""
    from arch.bootstrap import optimal_block_length  # arch and scipy take ~0.7 s to import: on use

    varying = [np.asarray(s, dtype=float) for s in series if per_day_sharpe(s) is not None]
    if not varying:
        return None
    lengths = optimal_block_length(np.column_stack(varying))["stationary"]
    return max(1.0, float(lengths.mean()))


def resample_indices(days: int, block: float, reps: int = REPS, seed: int = SEED) -> np.ndarray:
    """``reps`` rows of ``days`` positions drawn by arch's stationary bootstrap; the same arguments
    always draw the same positions, so series of one length resampled together stay aligned."""
    from arch.bootstrap import StationaryBootstrap

    bootstrap = StationaryBootstrap(block, np.arange(days), seed=seed)
    return np.vstack([drawn for (drawn,), _ in bootstrap.bootstrap(reps)])


def probabilistic_sharpe(returns: Sequence[float], benchmark_sharpe: float = 0.0) -> float | None:
    """The probability that the true per-day Sharpe exceeds ``benchmark_sharpe`` (Bailey & López de
    Prado 2012): Φ((SR − SR*)·√(n−1) / √(1 − γ3·SR + (γ4−1)/4·SR²)), SR the per-day Sharpe, γ3 the
    skewness and γ4 the (non-excess) kurtosis of the n returns.

    None below MIN_RETURNS returns, for returns that never vary, or when the moments make the
    denominator non-positive.
    """
    from scipy import stats

    r = np.asarray(returns, dtype=float)
    sharpe = per_day_sharpe(r)
    if too_short(r.size) or sharpe is None:
        return None
    skew = float(stats.skew(r))
    kurtosis = float(stats.kurtosis(r, fisher=False))
    spread = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if not spread > 0:
        return None
    return float(stats.norm.cdf((sharpe - benchmark_sharpe) * math.sqrt(r.size - 1) / math.sqrt(spread)))


def expected_max_sharpe(trial_sharpes: Sequence[float | None]) -> float:
    """The per-day Sharpe the best of N trials reaches by luck alone when every true Sharpe is 0
    (Bailey & López de Prado 2014): √V·((1−γ)·Φ⁻¹(1−1/N) + γ·Φ⁻¹(1−1/(N·e))), V the sample variance
    of the trials' Sharpes, γ the Euler–Mascheroni constant. Trials without a Sharpe are left out;
    with one trial (or none) it is 0."""
    from scipy import stats

    sharpes = np.array([s for s in trial_sharpes if s is not None], dtype=float)
    n = sharpes.size
    if n < 2:
        return 0.0
    gamma = np.euler_gamma
    quantiles = (1 - gamma) * stats.norm.ppf(1 - 1 / n) + gamma * stats.norm.ppf(1 - 1 / (n * math.e))
    return float(math.sqrt(sharpes.var(ddof=1)) * quantiles)


def deflated_sharpe(returns: Sequence[float], trial_sharpes: Sequence[float | None] = ()) -> float | None:
    """The PSR against the Sharpe the best of the trials would reach by luck (see
    :func:`expected_max_sharpe`): how likely this book's skill is real, given how many were tried.

    ``trial_sharpes`` are the per-day Sharpes of every configuration tried (this one included). With a
    single trial (or none given) there is nothing to deflate for, and the DSR equals the PSR.
    """
    return probabilistic_sharpe(returns, expected_max_sharpe(trial_sharpes))


def trader_statistics(
    returns: Sequence[float],
    benchmark: Sequence[float] | None = None,
    trial_sharpes: Sequence[float | None] = (),
) -> TraderStatistics:
    """Total return, annualised Sharpe and excess over ``benchmark`` with their intervals, PSR and DSR.

    Args:
        returns: The trader's daily simple returns, oldest first.
        benchmark: The benchmark's daily returns on the same days (resampled jointly), if any.
        trial_sharpes: Every trial's per-day Sharpe, for the DSR (see :func:`deflated_sharpe`).
    """
    r = tuple(float(x) for x in returns)
    b = None if benchmark is None else tuple(float(x) for x in benchmark)
    if b is not None and len(b) != len(r):
        raise ValueError(f"{len(r)} returns but {len(b)} benchmark returns: align them on the same days")
    return _statistics(r, b, tuple(trial_sharpes))


@functools.lru_cache(maxsize=256)  # a live board asks again for the same days on every refresh
def _statistics(
    returns: tuple[float, ...], benchmark: tuple[float, ...] | None, trials: tuple[float | None, ...]
) -> TraderStatistics:
    r = np.array(returns, dtype=float)
    b = None if benchmark is None else np.array(benchmark, dtype=float)
    total = float(_compound(r)) if r.size else None
    sharpe = metrics.sharpe_ratio(r, DAYS_PER_YEAR)
    excess = None if b is None or total is None else total - float(_compound(b))
    short = too_short(r.size)
    if short or sharpe is None:
        return TraderStatistics(
            r.size, short, Estimate(total), Estimate(sharpe), None if b is None else Estimate(excess),
            None, None, None,
        )  # fmt: skip
    block = block_length(r)
    index = resample_indices(r.size, block)
    drawn = r[index]
    totals = _compound(drawn)
    return TraderStatistics(
        days=r.size,
        too_short=None,
        total_return=_interval(totals, total),
        sharpe=_interval(_sharpes(drawn) * math.sqrt(DAYS_PER_YEAR), sharpe),
        excess_return=None if b is None else _interval(totals - _compound(b[index]), excess),
        psr=probabilistic_sharpe(r),
        dsr=deflated_sharpe(r, trials),
        block_length=block,
    )


def beat_probability(a: Sequence[float], b: Sequence[float]) -> float | None:
    """The probability that ``a``'s Sharpe beats ``b``'s: the share of joint stationary-bootstrap
    resamples (the same days for both) in which a's Sharpe is the higher.

    The series are daily returns on the same days. A tie (two books that played alike) counts half,
    so P(a beats b) + P(b beats a) = 1. None below MIN_RETURNS days or if either never varies.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size != y.size:
        raise ValueError(f"{x.size} and {y.size} returns: align them on the same days")
    if too_short(x.size) or per_day_sharpe(x) is None or per_day_sharpe(y) is None:
        return None
    index = resample_indices(x.size, block_length(x, y))
    difference = _sharpes(x[index]) - _sharpes(y[index])
    kept = difference[np.isfinite(difference)]
    if not kept.size:
        return None
    return float((np.count_nonzero(kept > 0) + 0.5 * np.count_nonzero(kept == 0)) / kept.size)


def beat_matrix(series: Sequence[Mapping[Hashable, float]]) -> list[list[float | None]]:
    """P(row's Sharpe > column's) for every pair of books, each a day -> return mapping, on the days
    both have; None on the diagonal and where a pair has too few shared days."""
    n = len(series)
    beats: list[list[float | None]] = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            shared = [day for day in series[i] if day in series[j]]
            p = beat_probability([series[i][d] for d in shared], [series[j][d] for d in shared])
            if p is not None:
                beats[i][j], beats[j][i] = p, 1 - p
    return beats
