"""Intervals, PSR, DSR and who beats whom, on series whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from floor.portfolio import uncertainty as u

DAYS = 250
MEAN, STD = 0.001, 0.01  # per day: a true annualised Sharpe of 0.1 * sqrt(252) = 1.587
TRUE_SHARPE = MEAN / STD * math.sqrt(u.DAYS_PER_YEAR)


def normal(seed: int, mean: float = MEAN, std: float = STD, days: int = DAYS) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, std, days)


def test_the_sharpe_interval_covers_the_true_sharpe_about_95_times_in_100():
    covered, widths = 0, []
    for seed in range(100):
        sharpe = u.trader_statistics(normal(seed)).sharpe
        assert sharpe.low < sharpe.value < sharpe.high
        covered += sharpe.low <= TRUE_SHARPE <= sharpe.high
        widths.append(sharpe.high - sharpe.low)
    assert 88 <= covered <= 99
    # As wide as theory says: the Sharpe's standard error is sqrt((1 + SR^2 / 2) / n) per day (Lo 2002).
    per_day = MEAN / STD
    expected = 2 * 1.96 * math.sqrt((1 + per_day**2 / 2) / DAYS) * math.sqrt(u.DAYS_PER_YEAR)
    assert np.mean(widths) == pytest.approx(expected, rel=0.15)


def test_the_return_interval_brackets_the_compounded_return_and_the_truth():
    returns = normal(0, mean=0.002)
    total = u.trader_statistics(returns).total_return
    assert total.value == pytest.approx(np.prod(1 + returns) - 1)
    assert total.low < total.value < total.high
    assert total.low < math.expm1(0.002 * DAYS) < total.high


def test_the_same_series_always_gives_the_same_numbers():
    returns = normal(3)
    first = u.trader_statistics(returns, normal(4)).to_json()
    u._statistics.cache_clear()
    assert u.trader_statistics(returns, normal(4)).to_json() == first


def test_excess_over_the_benchmark_resamples_both_on_the_same_days():
    returns = normal(11)
    same = u.trader_statistics(returns, returns).excess_return
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)  # jointly resampled: no spread at all
    better = u.trader_statistics(returns + 0.004, returns).excess_return
    assert better.value == pytest.approx(np.prod(1.004 + returns) - np.prod(1 + returns))
    assert 0 < better.low < better.value < better.high
    assert u.trader_statistics(returns).excess_return is None
    with pytest.raises(ValueError, match="align"):
        u.trader_statistics(returns, returns[1:])


def test_the_block_length_follows_the_dependence_of_the_returns():
    independent = u.trader_statistics(normal(5)).block_length
    rng = np.random.default_rng(5)
    shocks = rng.normal(0, STD, DAYS + 20)
    dependent = np.convolve(shocks, np.ones(10) / 10, mode="valid")[:DAYS] + MEAN  # a 10-day moving average
    persistent = u.trader_statistics(dependent).block_length
    assert 1 <= independent < 3 < persistent


def test_psr_of_a_strongly_positive_series_is_near_one_and_of_a_zero_mean_one_near_half():
    assert u.probabilistic_sharpe(normal(1, mean=0.005)) > 0.999
    zero_mean = [u.probabilistic_sharpe(normal(seed, mean=0.0)) for seed in range(40)]
    assert np.mean(zero_mean) == pytest.approx(0.5, abs=0.1)
    assert u.probabilistic_sharpe(normal(1, mean=-0.005)) < 0.001


def test_psr_is_the_closed_form_worked_by_hand():
    pattern = [0.01, -0.005, 0.02, 0.0, -0.01, 0.004]
    returns = pattern * 5  # 30 returns: the pattern's moments, computed here with nothing but sums
    n = len(returns)
    mean = sum(returns) / n
    sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / (n - 1))
    m2 = sum((r - mean) ** 2 for r in returns) / n
    skew = sum((r - mean) ** 3 for r in returns) / n / m2**1.5
    kurtosis = sum((r - mean) ** 4 for r in returns) / n / m2**2
    sharpe = mean / sd
    z = sharpe * math.sqrt(n - 1) / math.sqrt(1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2)
    by_hand = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    assert u.probabilistic_sharpe(returns) == pytest.approx(by_hand, rel=1e-12)
    against = 0.1  # against a per-day Sharpe of 0.1 instead of 0
    z = (sharpe - against) * math.sqrt(n - 1) / math.sqrt(1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2)
    assert u.probabilistic_sharpe(returns, against) == pytest.approx(0.5 * (1 + math.erf(z / math.sqrt(2))))
    assert 0.9 < by_hand < 0.99  # a per-day Sharpe of 0.3, but over 30 days only: likely, not certain


def trials(count: int, spread: float, seed: int = 0) -> np.ndarray:
    """``count`` per-day Sharpes whose sample standard deviation is exactly ``spread``."""
    z = np.random.default_rng(seed).normal(size=count)
    return (z - z.mean()) / z.std(ddof=1) * spread


def test_dsr_falls_below_psr_and_keeps_falling_as_more_configurations_are_tried():
    returns = normal(2)
    psr = u.probabilistic_sharpe(returns)
    dsrs = [u.deflated_sharpe(returns, trials(n, 0.05)) for n in (2, 4, 8, 16, 64)]
    assert all(d < psr for d in dsrs)
    assert dsrs == sorted(dsrs, reverse=True) and len(set(dsrs)) == len(dsrs)
    # the luck of the best of N: sqrt(V) times the expected maximum of N standard normals
    assert u.expected_max_sharpe(trials(64, 0.05)) == pytest.approx(0.05 * 2.4, rel=0.05)


def test_dsr_is_the_psr_for_a_single_trial():
    returns = normal(2)
    psr = u.probabilistic_sharpe(returns)
    assert u.deflated_sharpe(returns, [u.per_day_sharpe(returns)]) == psr
    assert u.deflated_sharpe(returns) == psr
    assert u.deflated_sharpe(returns, [0.1, None]) == psr  # a trial without a Sharpe does not count
    statistics = u.trader_statistics(returns, trial_sharpes=[0.1, 0.02, -0.03])
    assert statistics.psr == psr and statistics.dsr < psr


def test_a_clearly_better_trader_beats_the_other_almost_surely():
    worse = normal(8)
    better = worse + 0.004  # the same days, a better mean each day
    assert u.beat_probability(better, worse) > 0.99
    assert u.beat_probability(worse, better) < 0.01


def test_two_draws_of_one_process_beat_each_other_about_half_the_time():
    draws = [u.beat_probability(normal(2 * seed), normal(2 * seed + 1)) for seed in range(30)]
    assert np.mean(draws) == pytest.approx(0.5, abs=0.12)
    assert min(draws) < 0.5 < max(draws)


def test_beating_is_complementary_and_a_tie_counts_half():
    a, b = normal(21), normal(22)
    assert u.beat_probability(a, b) + u.beat_probability(b, a) == pytest.approx(1.0)
    assert u.beat_probability(a, a) == 0.5  # two books that played alike
    with pytest.raises(ValueError, match="align"):
        u.beat_probability(a, b[1:])


def test_the_beat_matrix_compares_books_on_the_days_they_share():
    a, b, c = normal(31), normal(32) + 0.003, normal(33)
    days = list(range(DAYS))
    series = [
        dict(zip(days, a, strict=True)),
        dict(zip(days, b, strict=True)),
        dict(zip(days[:20], c[:20], strict=True)),
    ]
    beats = u.beat_matrix(series)
    assert beats[0][0] is None and beats[1][1] is None
    assert beats[1][0] == pytest.approx(u.beat_probability(b, a)) and beats[1][0] > 0.9
    assert beats[0][1] == pytest.approx(1 - beats[1][0])
    assert beats[0][2] is None and beats[2][1] is None  # 20 shared days: too few


def test_too_short_a_series_gives_no_interval_and_says_why():
    returns = normal(4, days=u.MIN_RETURNS - 1)
    statistics = u.trader_statistics(returns, normal(5, days=u.MIN_RETURNS - 1), [0.1, 0.2])
    assert statistics.too_short == f"{u.MIN_RETURNS - 1} daily returns; the statistics need at least 30"
    assert statistics.sharpe.value is not None and statistics.total_return.value is not None
    for estimate in (statistics.sharpe, statistics.total_return, statistics.excess_return):
        assert estimate.low is None and estimate.high is None
    assert (statistics.psr, statistics.dsr, statistics.block_length) == (None, None, None)
    assert u.probabilistic_sharpe(returns) is None
    assert u.beat_probability(returns, returns + 0.01) is None
    enough = u.trader_statistics(normal(4, days=u.MIN_RETURNS))
    assert enough.too_short is None and enough.sharpe.low is not None and enough.psr is not None
    assert u.too_short(1) == "1 daily return; the statistics need at least 30"


def test_a_series_that_never_varies_has_no_sharpe_interval_psr_or_beat():
    flat = np.zeros(60)  # a book that stayed in cash
    statistics = u.trader_statistics(flat, normal(6, days=60))
    assert statistics.too_short is None and statistics.total_return.value == 0.0
    assert statistics.sharpe == u.Estimate(None) and statistics.total_return.low is None
    assert (statistics.psr, statistics.dsr) == (None, None)
    assert u.beat_probability(flat, normal(6, days=60)) is None
    assert u.block_length(flat) is None


def test_the_json_form_carries_every_figure():
    statistics = u.trader_statistics(normal(9), normal(10), [0.05, 0.1])
    shown = statistics.to_json()
    assert set(shown) == {
        "days",
        "too_short",
        "return",
        "sharpe",
        "excess_return",
        "psr",
        "dsr",
        "block_length",
    }
    assert shown["sharpe"] == {"value": statistics.sharpe.value, "low": statistics.sharpe.low,
                               "high": statistics.sharpe.high}  # fmt: skip
    assert shown["days"] == DAYS and shown["too_short"] is None
