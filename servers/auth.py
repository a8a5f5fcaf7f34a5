"""The tool service's credentials: a turn's bearer token decides whose binding a call gets.

FastMCP's bearer middleware calls :class:`TurnTokenVerifier` on every request; a token that is
unknown, expired, revoked or not granted this endpoint's server kind gets 401 before anything
runs. Inside a tool, :class:`TokenBindings` reads the verified token of the request being served
and answers with that turn's :class:`~servers.binding.TraderBinding` (one per token, so order
idempotency keys count per turn exactly as a stdio server's do).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio.to_thread
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.lowlevel.server import request_ctx
from sqlalchemy import Engine

from floor import tool_access
from floor.ledger.risk import policy_for
from floor.market import MarketData
from floor.market.cache import PriceBook
from floor.settings import Settings
from floor.traders import load_traders
from servers.binding import TraderBinding


class TurnAccessToken(AccessToken):
    """A verified token with the grant it carries (who, which turn, which cycle)."""

    trader: str
    turn_key: str
    cycle_id: int | None = None


class GrantLookup:
    """:func:`floor.tool_access.find_grant` asked on the service's event loop.

    Every request to the service asks it, so it runs the same query on a small pool of async
    psycopg connections (:meth:`running`, for as long as the service runs) instead of handing
    each request to a worker thread: a sixth of the CPU, and no thread switch, per request.
    Outside :meth:`running` it asks through a worker thread, as a blocking call must.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sql = str(tool_access.GRANT_QUERY.compile(dialect=engine.dialect))
        self._pool = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        from psycopg.rows import namedtuple_row
        from psycopg_pool import AsyncConnectionPool

        conninfo = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True, "row_factory": namedtuple_row},
            open=False,
        )
        await pool.open(wait=True, timeout=30)
        self._pool = pool
        try:
            yield
        finally:
            self._pool = None
            await pool.close()

    async def find(self, token: str) -> tool_access.Grant | None:
        parameters = tool_access.grant_parameters(token)
        if parameters is None:
            return None
        if self._pool is None:
            return await anyio.to_thread.run_sync(tool_access.find_grant, self._engine, token)
        async with self._pool.connection() as conn:
            cursor = await conn.execute(self._sql, parameters, prepare=True)
            return tool_access.grant_from_row(await cursor.fetchone())


class TurnTokenVerifier:
    """Verifies tokens for one server kind's endpoint against the ``tool_tokens`` table."""

    def __init__(self, grants: GrantLookup, kind: str) -> None:
        self._grants = grants
        self._kind = kind

    async def verify_token(self, token: str) -> AccessToken | None:
        grant = await self._grants.find(token)
        if grant is None or self._kind not in grant.kinds:
            return None
        return TurnAccessToken(
            token=token,
            client_id=grant.trader,
            # A session is bound to the credential that opened it: this token, not just this trader.
            subject=f"token-{tool_access.token_hash(token)}",
            scopes=sorted(grant.kinds),
            expires_at=int(grant.expires_at.timestamp()),
            trader=grant.trader,
            turn_key=grant.turn_key,
            cycle_id=grant.cycle_id,
        )


class NotAuthenticated(RuntimeError):
    """A tool ran without a verified credential: a wiring bug, never a client's doing."""


class TokenBindings:
    """The binding of the turn whose token authenticated the request being served."""

    def __init__(self, engine: Engine, market: MarketData, settings: Settings) -> None:
        self._engine = engine
        self._market = market
        self._settings = settings
        # Keyed by the token's hash: unique for good, unlike a row id (which a truncated table reuses).
        self._bindings: dict[str, tuple[TraderBinding, datetime]] = {}
        self._lock = threading.Lock()

    def current(self) -> TraderBinding:
        request = request_ctx.get().request
        user = request.scope.get("user") if request is not None else None
        if not isinstance(user, AuthenticatedUser) or not isinstance(user.access_token, TurnAccessToken):
            raise NotAuthenticated("a tool of the tool service ran without a verified turn token")
        token = user.access_token
        key = tool_access.token_hash(token.token)
        with self._lock:
            known = self._bindings.get(key)
            if known is None:
                self._forget_expired()
                binding = TraderBinding(
                    trader=token.trader,
                    engine=self._engine,
                    prices=PriceBook(
                        self._engine, self._market, token.cycle_id, fresh_for=self._settings.quote_freshness
                    ),
                    cycle_id=token.cycle_id,
                    turn_key=token.turn_key,
                    policy=self._policy(token.trader),
                )
                known = (binding, datetime.fromtimestamp(token.expires_at or 0, UTC))
                self._bindings[key] = known
        return known[0]

    def _policy(self, trader: str):
        """The trader's risk limits as the service's traders file and settings declare them.

        The traders file is read for each new turn, so a trader added to it since the service
        started gets its own limits; one that has an account but no entry gets the floor-wide ones.
        """
        profile = next((p for p in load_traders(self._settings) if p.name == trader), None)
        return policy_for(profile, self._settings)

    def _forget_expired(self) -> None:
        now = datetime.now(UTC)
        for key in [k for k, (_, expires) in self._bindings.items() if expires <= now]:
            del self._bindings[key]
