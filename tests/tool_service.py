"""A tool service on a loopback port for a test's own settings (the real service, on a thread)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from floor.agents.tool_servers import ToolService
from floor.settings import Settings


@contextmanager
def served(config: Settings, engine: Engine, market=None) -> Iterator[ToolService]:
    """The floor's tool service for ``config`` until the block ends."""
    from floor.market.factory import build_market
    from servers.service import ToolServiceThread, build_tool_app

    app = build_tool_app(config, engine, market or build_market(config))
    with ToolServiceThread(app) as running:
        yield ToolService(running.url, config.tool_call_timeout_seconds)
