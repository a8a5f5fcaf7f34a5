"""The incremental value-history cache against snapshots written by the real valuation code."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from floor.ledger.accounts import reset_accounts
from floor.portfolio.value_history import ValueHistoryCache
from floor.traders import load_traders
from tests.valued_floor import trade_three_cycles, value_at, value_cycle


@pytest.fixture
def traded(floor):
    return trade_three_cycles(floor)


def values(cache, engine):
    histories, benchmark = cache.read(engine)
    return {name: list(h.values) for name, h in histories.items()}, list(benchmark.values)


def test_histories_and_benchmark_from_the_snapshots(traded):
    histories, benchmark = ValueHistoryCache().read(traded)
    assert list(histories) == ["Warren", "George", "Ray", "Cathie"]
    assert list(histories["Warren"].values) == [9998.0, 10096.9, 10041.9]
    assert list(histories["George"].values) == [10000.0] * 3
    hours = [datetime(2026, 11, 2, h, tzinfo=UTC).timestamp() for h in (15, 16, 17)]
    assert list(histories["Warren"].times) == hours
    assert list(benchmark.values) == [9981.0, 10171.0, 10076.0] and list(benchmark.times) == hours


def test_new_cycles_are_appended(traded):
    cache = ValueHistoryCache()
    cache.read(traded)
    value_cycle(traded, {"AAPL": "120", "SPY": "520"}, datetime(2026, 11, 2, 18, tzinfo=UTC))
    found, benchmark = values(cache, traded)
    assert found["Warren"] == [9998.0, 10096.9, 10041.9, 10146.9]  # 9,546.90 + 5 x 120
    assert benchmark == [9981.0, 10171.0, 10076.0, 10361.0]  # 481 + 19 x 520
    assert values(cache, traded) == (found, benchmark)  # nothing new: unchanged


def test_a_revalued_cycle_replaces_its_points(traded):
    cache = ValueHistoryCache()
    cache.read(traded)
    # A retried cycle values again at other prices: same rows, new values.
    value_at(traded, {"AAPL": 90}, cycle_id=3, taken_at=datetime(2026, 11, 2, 17, tzinfo=UTC))
    found, _ = values(cache, traded)
    assert found["Warren"] == [9998.0, 10096.9, 9996.9]  # 9,546.90 + 5 x 90
    assert values(cache, traded)[0] == values(ValueHistoryCache(), traded)[0]


def test_a_reset_empties_the_histories(traded, settings):
    cache = ValueHistoryCache()
    cache.read(traded)
    reset_accounts(traded, load_traders(settings))
    found, benchmark = values(cache, traded)
    assert found == {"Warren": [], "George": [], "Ray": [], "Cathie": []}
    assert benchmark == []
    value_cycle(traded, {"AAPL": "100", "SPY": "500"}, datetime(2026, 11, 3, 15, tzinfo=UTC))
    found, benchmark = values(cache, traded)
    assert found["Warren"] == [10000.0] and benchmark == [9981.0]
