"""The one place that decides which market the floor reads."""

from __future__ import annotations

from floor.market import MarketData
from floor.settings import Settings


def build_market(settings: Settings) -> MarketData:
    """Polygon/Massive for ``POLYGON_PLAN`` when ``POLYGON_API_KEY`` is set, else the simulation.

    Building makes no request: a missing or bad key shows up when the cycle fetches, as a clear
    message in the run, never as a crash here.
    """
    if settings.polygon_api_key:
        from floor.market.polygon import PolygonMarket, build_polygon_client

        client = build_polygon_client(settings)
        return PolygonMarket(client, settings.polygon_plan, retries=settings.polygon_retries)
    from floor.market.simulated import SimulatedMarket

    return SimulatedMarket()


def market_source(settings: Settings) -> str:
    """The configured market's name (the source its cached prices carry), without building it."""
    if settings.polygon_api_key:
        from floor.market.polygon import source_name

        return source_name(settings.polygon_plan)
    from floor.market.simulated import SimulatedMarket

    return SimulatedMarket.name
