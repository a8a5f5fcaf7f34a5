"""One batch of prices per cycle: the cache first, else one upstream fetch; stale, never invented.

The cycle (1) gets a batch: the newest cached one when it is current enough for the plan, or
one fetch from the market; (2) checks a fetched batch (:mod:`floor.market.checks`); (3) stores
the batch under the cycle, or, when fetching or checking failed, the last good cached prices
marked stale. With no price at all it raises :class:`NoPrices` and nothing is traded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from floor.errors import FloorError
from floor.market import MarketData, Quote, RemoteMarket
from floor.market.cache import closes_before, latest_batch, latest_quotes, store_quotes
from floor.settings import Settings

# The jump check compares with the previous close, so a cached price counts as one only if it is
# at most this much older (a long weekend with a holiday). Comparing with a price weeks old would
# flag honest drift, and a batch refused for it would be refused again every cycle after.
PREVIOUS_CLOSE_WINDOW = timedelta(days=5)


class NoPrices(FloorError):
    """Not one usable price for the cycle: nothing may be traded or valued."""


@dataclass(frozen=True)
class PriceBatch:
    """Prices for the universe from one source, with what a check needs to judge them."""

    quotes: tuple[Quote, ...]
    source: str
    origin: str  # "upstream" (fetched for this cycle) or "cache" (a checked batch reused)
    fresh_from: datetime  # the oldest as-of the plan accepts
    previous: dict[str, Decimal] = field(default_factory=dict)  # previous closes, for the jump check


@dataclass(frozen=True)
class CyclePrices:
    """What a cycle trades and values at."""

    count: int
    source: str
    origin: str  # "upstream", "cache" or "stale"
    problem: str | None = None  # why stale prices were used
    oldest_age: timedelta | None = None  # of the stale prices
    stale_count: int = 0  # of a good batch: symbols it lacked, filled from the cache, marked stale

    def summary(self) -> str:
        if self.origin != "stale":
            gaps = f", {self.stale_count} of them stale (not in the batch)" if self.stale_count else ""
            return f"{self.count} prices from {self.source} ({self.origin}{gaps})"
        return (
            f"{self.count} STALE prices from {self.source}, the oldest {_age(self.oldest_age)} old, "
            f"because {self.problem}"
        )


def freshness_floor(market: MarketData, at: datetime, settings: Settings) -> datetime:
    """The oldest as-of time a price may have for ``market``'s plan at ``at``.

    Free: the close of the last closed session. Paid and realtime: a set age before the reference
    time (now while the session is open, the last close otherwise). A local market prices ``at``.
    """
    if not isinstance(market, RemoteMarket):
        return at.astimezone(UTC)
    from floor.market.calendar import last_closed_session, reference_time, session_close

    if market.plan == "free":
        return session_close(last_closed_session(at))
    minutes = settings.paid_max_age_minutes if market.plan == "paid" else settings.realtime_max_age_minutes
    return reference_time(at) - timedelta(minutes=minutes)


def fetch_batch(engine: Engine, market: MarketData, at: datetime, settings: Settings) -> PriceBatch:
    """The universe's prices: the newest cached batch when current enough, else one fetch.

    Raises whatever the market raises when it cannot answer (see ``floor.market.polygon``).
    """
    fresh_from = freshness_floor(market, at, settings)
    if isinstance(market, RemoteMarket):
        cached = latest_batch(engine, market.name)
        if cached and _current(cached, market.plan, at, fresh_from, settings):
            return PriceBatch(tuple(cached), market.name, "cache", fresh_from)
    stamp = datetime.now(UTC)
    quotes = tuple(replace(q, fetched_at=stamp) for q in market.quotes(market.universe(), at).values())
    previous = {q.symbol: q.previous_close for q in quotes if q.previous_close is not None}
    unknown = [q.symbol for q in quotes if q.symbol not in previous]
    if quotes and unknown:
        oldest = min(q.as_of for q in quotes)
        since = oldest - PREVIOUS_CLOSE_WINDOW
        previous.update(closes_before(engine, market.name, unknown, oldest, since))
    return PriceBatch(quotes, market.name, "upstream", fresh_from, previous)


def use_batch(
    engine: Engine, batch: PriceBatch, cycle_id: int, universe: list[str] | None = None
) -> CyclePrices:
    """Store a good batch as the cycle's prices.

    Symbols of ``universe`` the batch lacks (the API had no trade for them) get their newest
    cached price, marked stale, so holdings can still be valued; never an invented one.
    """
    fresh = [replace(q, stale=False) for q in batch.quotes]
    if not fresh:
        raise NoPrices(f"{batch.source} priced none of the floor's symbols")
    have = {q.symbol for q in fresh}
    missing = [s for s in universe or [] if s not in have]
    gaps = latest_quotes(engine, missing, source=batch.source) if missing else {}
    stale = [replace(q, stale=True) for q in gaps.values()]
    count = len(store_quotes(engine, [*fresh, *stale], cycle_id))
    return CyclePrices(count, batch.source, batch.origin, stale_count=len(stale))


def use_stale(engine: Engine, market: MarketData, at: datetime, cycle_id: int, problem: str) -> CyclePrices:
    """Store the newest cached price of each symbol, marked stale, as the cycle's prices.

    Raises:
        NoPrices: Nothing is cached for this market; ``problem`` says why nothing was fetched.
    """
    cached = latest_quotes(engine, market.universe(), source=market.name)
    if not cached:
        raise NoPrices(f"no price at all: {problem}; and no earlier {market.name} price is cached")
    stale = [replace(q, stale=True) for q in cached.values()]
    store_quotes(engine, stale, cycle_id)
    oldest = max(at - q.as_of for q in stale)
    return CyclePrices(len(stale), market.name, "stale", problem, oldest)


def _current(cached: list[Quote], plan: str, at: datetime, fresh_from: datetime, settings: Settings) -> bool:
    """Whether a cached batch may stand in for a fetch now."""
    if plan == "free":  # one grouped-daily request per trading day
        return min(q.as_of for q in cached) >= fresh_from
    fetched = min(q.fetched_at for q in cached if q.fetched_at is not None)
    return at - fetched <= timedelta(seconds=settings.price_cache_seconds)


def _age(age: timedelta | None) -> str:
    if age is None:
        return "?"
    hours, rest = divmod(int(age.total_seconds()), 3600)
    return f"{hours}h{rest // 60:02d}m"
