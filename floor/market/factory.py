"""The one place that decides which market the floor reads."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

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


def build_backtest_market(settings: Settings, engine: Engine) -> MarketData:
    """What a backtest is priced from: the simulation (it answers for any past instant), or with a
    Polygon key the daily closes cached for the span (``floor.market.replay``), never the API."""
    if settings.polygon_api_key:
        from floor.market.replay import ClosesMarket

        return ClosesMarket(engine, build_market(settings))
    from floor.market.simulated import SimulatedMarket

    return SimulatedMarket()


def prepare_backtest_market(settings: Settings, engine: Engine, first: date, last: date) -> int | None:
    """Cache what a backtest of ``first`` to ``last`` will ask: with Polygon, every symbol's daily
    closes, at most one request per symbol (none when cached); returns the requests made, or None
    for the simulation, which needs nothing."""
    if not settings.polygon_api_key:
        return None
    from floor.market.replay import prefetch_closes

    market = build_market(settings)
    return prefetch_closes(engine, market, market.universe(), first, last)
