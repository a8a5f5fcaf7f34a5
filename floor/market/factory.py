"""The one place that decides which market the floor reads."""

from __future__ import annotations

from floor.market import MarketData
from floor.settings import Settings


def build_market(settings: Settings) -> MarketData:
    """The simulated market: deterministic prices of real tickers, no keys needed.

    A Polygon/Massive-backed market for ``POLYGON_API_KEY`` plugs in here behind the same
    protocol; until it exists every floor reads the simulation.
    """
    from floor.market.simulated import SimulatedMarket

    return SimulatedMarket()
