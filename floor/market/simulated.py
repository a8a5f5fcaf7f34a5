"""A deterministic simulated market: real tickers, made-up but plausible prices, no keys needed.

Every price is a pure function of (symbol, instant): two processes, or two runs a year apart,
see the same price at the same instant. Daily closes follow a geometric random walk on weekdays
(holidays are ignored: the simulation trades Monday to Friday) with each instrument's volatility
and drift from :mod:`floor.market.universe`, plus a shared market factor so stocks move together.
Within a session (09:30-16:00 America/New_York) the price moves smoothly from the previous close
to the day's close.

This module is imported by MCP server processes, so it must stay cheap to import: standard
library only, no pandas, numpy or exchange_calendars.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from floor.market import DailyClose, Quote
from floor.market.universe import INSTRUMENTS, Category, Instrument
from floor.money import price

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = time(9, 30)
SESSION_CLOSE = time(16, 0)

# base_price is the close of this day (the last weekday of 2024, near the levels in universe.py);
# the walk runs both ways from it.
EPOCH = date(2024, 12, 31)
EPOCH_YEAR = EPOCH.year + 1  # the first year whose moves lead away from the epoch
MIN_YEAR, MAX_YEAR = 1970, 2199  # bounds the lazy year-by-year recursion; far beyond any use
MAX_HISTORY_DAYS = 3650
TRADING_DAYS_PER_YEAR = 252

# Loading on the shared market factor; the rest of each day's move is the instrument's own.
# Two equities with loading 0.5 correlate at 0.25; bonds and gold barely follow stocks.
MARKET_LOADING: dict[Category, float] = {
    Category.LARGE_CAP: 0.5,
    Category.INNOVATION: 0.5,
    Category.SECTOR_ETF: 0.6,
    Category.BROAD_ETF: 0.8,
    Category.BOND_ETF: 0.0,
    Category.GOLD_ETF: 0.1,
    Category.CRYPTO_STOCK: 0.35,
    Category.CRYPTO_ETF: 0.3,
}
_MARKET_KEY = "~market"  # not a ticker, so it cannot collide with one
# Prices are reflected into [max($1, base/BAND), base*BAND] so no path drifts to pennies or the moon.
PRICE_BAND = 25.0
MIN_PRICE = 1.0
_INTRADAY_TERMS = 10  # sine terms of the intraday bridge: enough wiggle, still smooth per minute


@dataclass(frozen=True)
class _Walk:
    """An instrument's parameters in the units the walk uses (log price, per weekday)."""

    log_base: float
    mu: float  # mean daily log return
    sd: float  # standard deviation of the daily log return
    market: float  # loading on the market factor
    own: float  # loading on the instrument's own noise; market**2 + own**2 == 1
    log_low: float
    log_high: float

    @classmethod
    def of(cls, instrument: Instrument) -> _Walk:
        vol, drift = instrument.annual_vol, instrument.annual_drift
        market = MARKET_LOADING.get(instrument.category, 0.5)
        return cls(
            log_base=math.log(instrument.base_price),
            mu=drift / TRADING_DAYS_PER_YEAR,  # annual_drift is the expected log return
            sd=vol / math.sqrt(TRADING_DAYS_PER_YEAR),
            market=market,
            own=math.sqrt(1.0 - market * market),
            log_low=math.log(max(MIN_PRICE, instrument.base_price / PRICE_BAND)),
            log_high=math.log(instrument.base_price * PRICE_BAND),
        )

    def fold(self, log_price: float) -> float:
        """Reflect ``log_price`` into the band; reflection keeps the path continuous."""
        width = self.log_high - self.log_low
        offset = (log_price - self.log_low) % (2 * width)
        return self.log_low + (offset if offset <= width else 2 * width - offset)


class SimulatedMarket:
    """Deterministic prices for the simulated universe; implements ``MarketData``."""

    name = "simulated"

    def __init__(self, instruments: Iterable[Instrument] = INSTRUMENTS) -> None:
        self._walks: dict[str, _Walk] = {i.symbol.upper(): _Walk.of(i) for i in instruments}

    def knows(self, symbol: str) -> bool:
        """True if ``symbol`` is in the simulated universe."""
        return symbol.upper() in self._walks

    def universe(self) -> list[str]:
        """The simulated symbols, in universe order."""
        return list(self._walks)

    def quotes(self, symbols: Iterable[str], at: datetime) -> dict[str, Quote]:
        """Prices at ``at`` for the known symbols among ``symbols``; unknown ones are left out.

        Args:
            symbols: Tickers, any case.
            at: A timezone-aware instant.

        Returns:
            Quotes keyed by upper-case symbol, priced to four places, ``as_of`` in UTC.

        Raises:
            ValueError: ``at`` is naive or outside the simulated years.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"quotes need a timezone-aware instant, got naive {at.isoformat()}")
        as_of = at.astimezone(UTC)
        result: dict[str, Quote] = {}
        for raw in symbols:
            symbol = raw.upper()
            walk = self._walks.get(symbol)
            if walk is None or symbol in result:
                continue
            value = math.exp(_log_price_at(symbol, walk, as_of))
            result[symbol] = Quote(symbol=symbol, price=price(value), as_of=as_of, source=self.name)
        return result

    def history(self, symbol: str, days: int, until: date) -> list[DailyClose]:
        """The last ``days`` weekday closes up to and including ``until``, oldest first.

        Args:
            symbol: A ticker of the simulated universe, any case.
            days: How many closes, 1 to 3650.
            until: The last day; a weekend day ends the history at its Friday.

        Raises:
            ValueError: Unknown symbol, ``days`` out of range, or dates outside the simulated years.
        """
        walk = self._walks.get(symbol.upper())
        if walk is None:
            raise ValueError(f"unknown symbol: {symbol}")
        if not 1 <= days <= MAX_HISTORY_DAYS:
            raise ValueError(f"days must be between 1 and {MAX_HISTORY_DAYS}, got {days}")
        last = _weekday_count(until)
        key = symbol.upper()
        return [
            DailyClose(day=_weekday_from_count(count), close=price(math.exp(_log_close(key, walk, count))))
            for count in range(last - days + 1, last + 1)
        ]


def _log_price_at(symbol: str, walk: _Walk, at: datetime) -> float:
    """Log price at an aware instant: last close outside the session, a smooth bridge inside."""
    local = at.astimezone(NEW_YORK)
    day = local.date()
    count = _weekday_count(day)
    if day.weekday() >= 5:  # weekend: the Friday close, which shares the Friday's count
        return _log_close(symbol, walk, count)
    opens = datetime.combine(day, SESSION_OPEN, NEW_YORK)
    closes = datetime.combine(day, SESSION_CLOSE, NEW_YORK)
    if local < opens:
        return _log_close(symbol, walk, count - 1)
    if local >= closes:
        return _log_close(symbol, walk, count)
    # Through UTC, because subtracting two New York wall times ignores their offsets.
    elapsed = (at - opens.astimezone(UTC)).total_seconds()
    s = elapsed / (closes - opens).total_seconds()
    previous, today = _log_close(symbol, walk, count - 1), _log_close(symbol, walk, count)
    wiggle = walk.market * _bridge(_MARKET_KEY, day, s) + walk.own * _bridge(symbol, day, s)
    return walk.fold(previous + s * (today - previous) + walk.sd * wiggle)


def _log_close(symbol: str, walk: _Walk, count: int) -> float:
    """Log close of the weekday numbered ``count`` (see ``_weekday_count``)."""
    steps = count - _EPOCH_COUNT
    noise = walk.market * _walk_at(_MARKET_KEY, count) + walk.own * _walk_at(symbol, count)
    return walk.fold(walk.log_base + walk.mu * steps + walk.sd * noise)


# --- Weekday arithmetic: weekdays are numbered consecutively, so day t-1 is simply count-1. ---


def _weekday_count(day: date) -> int:
    """Weekdays from 0001-01-01 (a Monday) up to and including ``day``.

    A Saturday or Sunday gets its Friday's number, so a weekend reads the Friday close.
    """
    weeks, weekday = divmod(day.toordinal() - 1, 7)
    return weeks * 5 + min(weekday, 4) + 1


def _weekday_from_count(count: int) -> date:
    """The weekday numbered ``count``; inverse of ``_weekday_count`` on weekdays."""
    weeks, weekday = divmod(count - 1, 5)
    return date.fromordinal(weeks * 7 + weekday + 1)


_EPOCH_COUNT = _weekday_count(EPOCH)


def _year_start(year: int) -> int:
    """Number of the last weekday before ``year``."""
    return _weekday_count(date(year - 1, 12, 31))


def _weekdays_in(year: int) -> int:
    return _year_start(year + 1) - _year_start(year)


# --- Standard random walks W(key, count), built year by year so no lookup walks from the epoch. ---
#
# Seeding one generator per day would cost ~10 us per day per symbol (over a second for the
# universe up to 2030). Instead each (key, year) gets one generator whose first draw is the
# year's total move and whose next draws are bridged to end exactly there. A year's end level
# is then a sum of one draw per year, and only the requested year's days are generated. For
# Gaussian steps, bridging to an independently drawn total has exactly the law of a plain walk.


def _seed(*parts: object) -> str:
    """A seed that is the same in every process and run.

    ``random.Random`` turns a str seed into an int through SHA-512 (documented, stable since
    Python 3.2), unlike ``hash()`` of a str, which is salted per process. Seeding with the text
    also spares this module importing ``hashlib`` (OpenSSL) just for a digest.
    """
    return ":".join(str(part) for part in parts)


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"the simulated market covers {MIN_YEAR}-{MAX_YEAR}, not {year}")


@cache
def _year_total(key: str, year: int) -> float:
    """W's total move over ``year``: the first draw of that year's generator."""
    return random.Random(_seed(key, year)).gauss(0.0, math.sqrt(_weekdays_in(year)))


@cache
def _anchor(key: str, year: int) -> float:
    """W on the last weekday before ``year``; zero at the epoch."""
    if year == EPOCH_YEAR:
        return 0.0
    if year > EPOCH_YEAR:
        return _anchor(key, year - 1) + _year_total(key, year - 1)
    return _anchor(key, year + 1) - _year_total(key, year)


@lru_cache(maxsize=4096)
def _year_path(key: str, year: int) -> tuple[float, ...]:
    """W relative to the year's anchor on each weekday of ``year``; ends at the year's total."""
    days = _weekdays_in(year)
    rng = random.Random(_seed(key, year))
    total = rng.gauss(0.0, math.sqrt(days))  # the same first draw as _year_total
    gauss = rng.gauss
    partial = 0.0
    sums = []
    for _ in range(days):
        partial += gauss(0.0, 1.0)
        sums.append(partial)
    correction = (partial - total) / days
    path = [value - correction * step for step, value in enumerate(sums, start=1)]
    path[-1] = total  # exact, so the next year's anchor continues without a float seam
    return tuple(path)


def _walk_at(key: str, count: int) -> float:
    """Standard random walk ``key`` (unit-variance steps) at weekday ``count``; 0 at the epoch."""
    year = _weekday_from_count(count).year
    _check_year(year)
    return _anchor(key, year) + _year_path(key, year)[count - _year_start(year) - 1]


@lru_cache(maxsize=16384)
def _bridge_terms(key: str, day: date) -> tuple[float, ...]:
    """Seeded coefficients of one day's intraday bridge for ``key``."""
    rng = random.Random(_seed(key, day.isoformat(), "intraday"))
    return tuple(rng.gauss(0.0, 1.0) * math.sqrt(2) / (k * math.pi) for k in range(1, _INTRADAY_TERMS + 1))


def _bridge(key: str, day: date, s: float) -> float:
    """A unit Brownian bridge at session fraction ``s``: zero at the open and at the close.

    It is the truncated sine (Karhunen-Loeve) series of a Brownian bridge, so it has the right
    shape and size while staying smooth from one minute to the next.
    """
    terms = _bridge_terms(key, day)
    return sum(c * math.sin(k * math.pi * s) for k, c in enumerate(terms, start=1))
