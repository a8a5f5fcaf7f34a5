"""A book's tools served in this process: the same MCP servers, reached over in-memory streams.

A backtest plays hundreds of turns per trader one after another, each in its own book (a Postgres
schema, :mod:`floor.books`). Its turns need no network, no tokens and no other process: each book
gets the accounts and market servers built once (:func:`servers.launch.build_server`), bound to the
turn being played, and a turn's client sessions talk to them through anyio memory streams — the
MCP SDK's own in-memory transport, the same protocol, strict argument checks and tool code as the
tool service, minus HTTP.

Web research, fetched pages and notifications are not served: they are not point in time (a page
read today knows what happened after the simulated session), and a backtest must not push to a
phone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
from sqlalchemy import Engine

from floor.agents.tool_servers import KeptSessions, ToolService
from floor.errors import TradeRejected
from floor.ledger.risk import policy_for
from floor.market import MarketData
from floor.market.cache import PriceBook
from floor.settings import Settings
from servers.binding import TraderBinding
from servers.launch import build_server

BOOK_SERVER_KINDS = frozenset({"accounts", "market"})


class _TurnSource:
    """The binding of the turn a book is playing now (a book plays one turn at a time)."""

    binding: TraderBinding | None = None

    def current(self) -> TraderBinding:
        if self.binding is None:
            raise TradeRejected("no turn is being played in this book")
        return self.binding


class BookTools:
    """Serves one book's turns (``floor.agents.tool_servers.TurnTools``) in this process.

    Args:
        settings: The floor's settings (quote freshness, call timeout, risk limits).
        market: What the book's turns are priced from (a session's clock chooses the instant).
        name: Named in errors, as a tool service's address would be.
    """

    kinds = BOOK_SERVER_KINDS

    def __init__(self, settings: Settings, market: MarketData, name: str) -> None:
        self._settings = settings
        self._market = market
        self._source = _TurnSource()
        self._servers = {kind: build_server(kind, self._source, settings) for kind in sorted(self.kinds)}
        self.service = ToolService(f"memory://{name}", settings.tool_call_timeout_seconds)
        self._access = _InMemory(self.service, self._servers)
        # Connected once and kept: every turn of the book talks to the same servers, rebound per turn.
        self._kept = {kind: KeptSessions(self._access, [kind]) for kind in sorted(self.kinds)}

    @contextmanager
    def admit(
        self, engine: Engine, settings: Settings, request: Any, kinds: frozenset[str]
    ) -> Iterator[_InMemory]:
        """Bind the servers to ``request``'s turn, on ``engine`` (the book's), at its clock."""
        if self._source.binding is not None:
            raise RuntimeError("a book plays one turn at a time")
        self._source.binding = TraderBinding(
            trader=request.profile.name,
            engine=engine,
            prices=PriceBook(
                engine,
                self._market,
                request.cycle_id,
                fresh_for=settings.quote_freshness,
                clock=request.clock,
            ),
            cycle_id=request.cycle_id,
            turn_key=request.turn_key,
            policy=policy_for(request.profile, settings),
        )
        try:
            yield _TurnAccess(self.service, self._access, {kind: self._kept[kind] for kind in kinds})
        finally:
            self._source.binding = None

    def close(self) -> None:
        for kept in self._kept.values():
            kept.close()


class _TurnAccess:
    """One turn's access to its book's servers: the sessions the book keeps open."""

    def __init__(self, service: ToolService, access: _InMemory, kept: dict[str, KeptSessions]) -> None:
        self.service, self._access, self._kept = service, access, kept

    def connect(self, kind: str):
        return self._access.connect(kind)

    @contextmanager
    def open_tools(self, kinds) -> Iterator[list]:
        yield [tool for kind in kinds for tool in self._kept[kind].tools()]


class _InMemory:
    """A new in-memory connection to one of the book's servers per session opened."""

    def __init__(self, service: ToolService, servers: dict[str, Any]) -> None:
        self.service = service
        self._servers = servers

    @asynccontextmanager
    async def connect(self, kind: str) -> AsyncIterator[tuple[Any, Any]]:
        from mcp.shared.memory import create_client_server_memory_streams

        server = self._servers[kind]._mcp_server  # FastMCP's protocol server (what its transports run)
        async with create_client_server_memory_streams() as (client, (read, write)):
            async with anyio.create_task_group() as group:
                group.start_soon(lambda: server.run(read, write, server.create_initialization_options()))
                try:
                    yield client
                finally:
                    group.cancel_scope.cancel()
