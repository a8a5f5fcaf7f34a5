"""The simulated market: deterministic, smooth, plausibly volatile, and cheap to import."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from floor.market import MarketData
from floor.market.simulated import SimulatedMarket
from floor.market.universe import BY_SYMBOL, INSTRUMENTS

NY = ZoneInfo("America/New_York")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def market() -> SimulatedMarket:
    return SimulatedMarket()


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def price_at(market: SimulatedMarket, symbol: str, at: datetime) -> Decimal:
    return market.quotes([symbol], at)[symbol].price


def test_is_a_market_data_over_the_whole_universe(market: SimulatedMarket) -> None:
    assert isinstance(market, MarketData)
    assert market.name == "simulated"
    assert market.universe() == [i.symbol for i in INSTRUMENTS]
    assert market.knows("AAPL") and market.knows("brk.b")
    assert not market.knows("NOPE")


def test_quotes_price_known_symbols_in_utc_and_skip_unknown(market: SimulatedMarket) -> None:
    at = ny(2025, 11, 24, 11, 0)
    quotes = market.quotes(["aapl", "NOPE", "SPY", "AAPL"], at)

    assert set(quotes) == {"AAPL", "SPY"}
    quote = quotes["AAPL"]
    assert quote.symbol == "AAPL"
    assert quote.source == "simulated"
    assert quote.as_of == at and quote.as_of.utcoffset() == timedelta(0)
    assert quote.price > 0 and quote.price == quote.price.quantize(Decimal("0.0001"))
    assert not quote.stale


def test_every_price_stays_in_sane_bounds(market: SimulatedMarket) -> None:
    for at in (ny(2021, 3, 1, 12), ny(2026, 11, 24, 12), ny(2030, 6, 14, 12)):
        for symbol, quote in market.quotes(market.universe(), at).items():
            base = Decimal(str(BY_SYMBOL[symbol].base_price))
            assert Decimal(1) <= quote.price <= base * 25, (symbol, at)


def test_same_instant_same_price_across_instances(market: SimulatedMarket) -> None:
    at = ny(2026, 3, 17, 13, 7)
    assert market.quotes(market.universe(), at) == SimulatedMarket().quotes(market.universe(), at)


def test_same_instant_same_price_in_another_process(market: SimulatedMarket) -> None:
    code = (
        "from datetime import datetime, timezone;"
        "from floor.market.simulated import SimulatedMarket;"
        "m = SimulatedMarket();"
        "print(m.quotes(['NVDA'], datetime(2026, 3, 17, 17, 7, 30, tzinfo=timezone.utc))['NVDA'].price)"
    )
    # A different hash seed proves the prices do not lean on (salted) str hashing.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    at = datetime(2026, 3, 17, 17, 7, 30, tzinfo=UTC)
    assert Decimal(done.stdout.strip()) == price_at(market, "NVDA", at)


def test_different_days_close_differently(market: SimulatedMarket) -> None:
    closes = [c.close for c in market.history("AAPL", 60, date(2026, 6, 30))]
    assert len(set(closes)) == len(closes)
    # And different symbols do not share a path.
    assert closes != [c.close for c in market.history("MSFT", 60, date(2026, 6, 30))]


def test_prices_move_smoothly_minute_to_minute(market: SimulatedMarket) -> None:
    opening = ny(2026, 4, 15, 9, 30)
    for symbol in ("AAPL", "MSTR", "TLT"):
        path = [price_at(market, symbol, opening + timedelta(minutes=m)) for m in range(391)]
        steps = [abs(b / a - 1) for a, b in zip(path, path[1:], strict=False)]
        assert max(steps) < Decimal("0.005"), symbol
        assert len(set(path)) > 300, symbol  # it moves, not a flat line
        # The path wanders: it is not a straight line from the previous close to the close.
        line = [path[0] + (path[-1] - path[0]) * m / 390 for m in range(391)]
        assert max(abs(p / q - 1) for p, q in zip(path, line, strict=True)) > Decimal("0.001"), symbol


def test_session_runs_from_the_previous_close_to_the_close(market: SimulatedMarket) -> None:
    monday, friday = date(2026, 4, 13), date(2026, 4, 10)
    closes = {c.day: c.close for c in market.history("XOM", 5, monday)}

    assert price_at(market, "XOM", ny(2026, 4, 13, 8, 0)) == closes[friday]
    assert price_at(market, "XOM", ny(2026, 4, 13, 9, 30)) == closes[friday]
    assert price_at(market, "XOM", ny(2026, 4, 13, 16, 0)) == closes[monday]
    assert price_at(market, "XOM", ny(2026, 4, 13, 23, 59)) == closes[monday]
    just_before = price_at(market, "XOM", ny(2026, 4, 13, 15, 59))
    assert abs(just_before / closes[monday] - 1) < Decimal("0.005")


def test_weekend_reads_the_friday_close(market: SimulatedMarket) -> None:
    friday_close = market.history("TSLA", 1, date(2026, 4, 10))[-1]
    assert friday_close.day == date(2026, 4, 10)
    for at in (ny(2026, 4, 11, 12), ny(2026, 4, 12, 23, 59)):
        assert price_at(market, "TSLA", at) == friday_close.close
    # The history of a Sunday ends on its Friday.
    assert market.history("TSLA", 3, date(2026, 4, 12))[-1] == friday_close


def test_history_is_weekdays_oldest_first_and_ends_at_the_close(market: SimulatedMarket) -> None:
    history = market.history("spy", 300, date(2026, 11, 24))

    assert len(history) == 300
    days = [c.day for c in history]
    assert days == sorted(days) and len(set(days)) == 300
    assert all(d.weekday() < 5 for d in days)
    assert days[-1] == date(2026, 11, 24)
    # Consecutive weekdays: no gaps beyond a weekend.
    assert all((b - a).days in (1, 3) for a, b in zip(days, days[1:], strict=False))
    after_close = ny(2026, 11, 24, 17, 0)
    assert history[-1].close == price_at(market, "SPY", after_close)


def test_history_reaches_years_before_the_epoch(market: SimulatedMarket) -> None:
    history = market.history("GLD", 3650, date(2026, 11, 24))
    assert len(history) == 3650 and history[0].day.year == 2012
    assert history[-10:] == market.history("GLD", 10, date(2026, 11, 24))


@pytest.mark.parametrize("symbol", ["AAPL", "SPY", "TLT", "NVDA"])
def test_realised_volatility_matches_the_universe(market: SimulatedMarket, symbol: str) -> None:
    closes = [float(c.close) for c in market.history(symbol, 520, date(2024, 12, 31))]
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
    realised = statistics.stdev(returns) * math.sqrt(252)
    expected = BY_SYMBOL[symbol].annual_vol
    assert 0.65 * expected <= realised <= 1.35 * expected


def test_stocks_share_a_market_factor(market: SimulatedMarket) -> None:
    def returns(symbol: str) -> list[float]:
        closes = [float(c.close) for c in market.history(symbol, 1000, date(2025, 12, 31))]
        return [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]

    assert statistics.correlation(returns("SPY"), returns("QQQ")) > 0.4


def test_bad_input_is_refused(market: SimulatedMarket) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        market.quotes(["AAPL"], datetime(2026, 1, 5, 12, 0))
    with pytest.raises(ValueError, match="unknown symbol: NOPE"):
        market.history("NOPE", 5, date(2026, 1, 5))
    for days in (0, -1, 3651):
        with pytest.raises(ValueError, match="days must be between 1 and 3650"):
            market.history("AAPL", days, date(2026, 1, 5))


def test_importing_stays_cheap_and_first_universe_quote_is_fast() -> None:
    code = (
        "import sys, time;"
        "from datetime import datetime, timezone;"
        "from floor.market.simulated import SimulatedMarket;"
        "heavy = [m for m in ('pandas', 'numpy', 'exchange_calendars') if m in sys.modules];"
        "m = SimulatedMarket();"
        "t = time.perf_counter();"
        "m.quotes(m.universe(), datetime(2030, 6, 14, 17, 0, tzinfo=timezone.utc));"
        "print(heavy, time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    heavy, seconds = done.stdout.rsplit(" ", 1)
    assert heavy == "[]"
    # ~20 ms here; the bound only catches a regression to day-by-day seeding (over a second).
    assert float(seconds) < 0.5
