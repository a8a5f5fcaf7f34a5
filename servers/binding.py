"""What binds a server to one trader: built once by the entry point, shared by every tool."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine

from floor.market import MarketData
from floor.price_cache import PriceBook
from floor.settings import Settings


@dataclass
class TraderBinding:
    """A server's trader, database, prices and the turn its orders belong to.

    ``turn_key`` names the trader turn that launched the server. Orders get idempotency keys
    derived from it and from how many identical orders came before in this session, so a retried
    turn that places the same orders again replays them instead of trading twice.
    """

    trader: str
    engine: Engine
    prices: PriceBook
    cycle_id: int | None = None
    turn_key: str = field(default_factory=lambda: f"session-{uuid.uuid4()}")
    _orders_seen: Counter = field(default_factory=Counter)
    _sequence: itertools.count = field(default_factory=itertools.count)

    def order_key(self, side: str, symbol: str, quantity: object) -> str:
        signature = f"{side}:{str(symbol).strip().upper()}:{quantity}"
        self._orders_seen[signature] += 1
        return f"{self.turn_key}:{signature}:{self._orders_seen[signature]}"


def bind_trader(
    settings: Settings,
    trader: str,
    *,
    turn_key: str | None = None,
    cycle_id: int | None = None,
    market: MarketData | None = None,
) -> TraderBinding:
    """Connect to the floor's database and bind to ``trader`` (who must be configured)."""
    from floor.database import connect
    from floor.market.factory import build_market
    from floor.traders import find_trader, load_traders

    profile = find_trader(load_traders(settings), trader)
    engine = connect(settings, run_migrations=False)
    market = market or build_market(settings)
    binding = TraderBinding(
        trader=profile.name, engine=engine, prices=PriceBook(engine, market, cycle_id), cycle_id=cycle_id
    )
    if turn_key:
        binding.turn_key = turn_key
    return binding
