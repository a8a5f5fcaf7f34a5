"""What binds a server's tools to one trader, whatever the transport.

Every tool takes the :class:`TraderBinding` it acts for as its first argument, and gets it from a
:class:`BindingSource`:

- a stdio server (``floor mcp KIND --trader NAME``) is bound when it starts: the binding itself is
  the source and answers every call;
- the tool service (``floor tools``) serves every trader from one process: the source reads the
  bearer token the request was authenticated with (:mod:`servers.auth`) and answers with that
  turn's binding. No argument of any tool names an account.

Both build the same :class:`TraderBinding` from the same fields (trader, turn key, cycle), so the
rules a tool applies do not depend on how it was reached.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio.to_thread
from sqlalchemy import Engine

from floor.ledger.risk import NO_POLICY, RiskPolicy
from floor.market import MarketData
from floor.market.cache import PriceBook
from floor.settings import Settings
from servers.strict_tools import StrictFastMCP


@dataclass
class TraderBinding:
    """A server's trader, database, prices, risk limits and the turn its orders belong to.

    ``turn_key`` names the trader turn the tools serve. Orders get idempotency keys derived from
    it and from how many identical orders came before under this binding, so a retried turn that
    places the same orders again replays them instead of trading twice.
    """

    trader: str
    engine: Engine
    prices: PriceBook
    cycle_id: int | None = None
    turn_key: str = field(default_factory=lambda: f"session-{uuid.uuid4()}")
    policy: RiskPolicy = NO_POLICY
    _orders_seen: Counter = field(default_factory=Counter)
    _sequence: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def order_key(self, side: str, symbol: str, quantity: object) -> str:
        signature = f"{side}:{str(symbol).strip().upper()}:{quantity}"
        with self._lock:  # tools run in worker threads; two identical orders must get two keys
            self._orders_seen[signature] += 1
            seen = self._orders_seen[signature]
        return f"{self.turn_key}:{signature}:{seen}"

    def current(self) -> TraderBinding:
        """A binding made at start is its own source: every call acts for this trader."""
        return self


class BindingSource(Protocol):
    """Answers, inside a tool call, which trader's binding the call acts for."""

    def current(self) -> TraderBinding: ...


def bound_tools(
    server: StrictFastMCP, source: BindingSource
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator registering ``fn(binding, **arguments)`` as a tool of ``server``.

    The tool's arguments are ``fn``'s signature without its first parameter, checked strictly by
    ``server`` (:mod:`servers.strict_tools`). The binding is taken from ``source`` in the
    request's own context, then ``fn`` runs in a worker thread, so a slow database call of one
    trader never holds up another's session on the same event loop.
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn, eval_str=True)
        _, *parameters = signature.parameters.values()

        async def call(**arguments: Any) -> Any:
            binding = source.current()
            return await anyio.to_thread.run_sync(functools.partial(fn, binding, **arguments))

        call.__name__ = fn.__name__
        call.__doc__ = fn.__doc__
        call.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        # Results are sent as JSON text only: an output schema makes both the SDK's server and its
        # client check every result with jsonschema (a tenth of a turn's CPU), and the floor's
        # agents read the text.
        server.add_tool(call, name=fn.__name__, description=fn.__doc__, structured_output=False)
        return fn

    return register


def bind_trader(
    settings: Settings,
    trader: str,
    *,
    turn_key: str | None = None,
    cycle_id: int | None = None,
    market: MarketData | None = None,
    engine: Engine | None = None,
) -> TraderBinding:
    """Bind to ``trader`` (who must be configured), connecting to the floor's database if needed."""
    from floor.database import connect
    from floor.market.factory import build_market
    from floor.traders import find_trader, load_traders

    profile = find_trader(load_traders(settings), trader)
    engine = engine or connect(settings, run_migrations=False)
    market = market or build_market(settings)
    from floor.ledger.risk import policy_for

    binding = TraderBinding(
        trader=profile.name,
        engine=engine,
        prices=PriceBook(engine, market, cycle_id, fresh_for=settings.quote_freshness),
        cycle_id=cycle_id,
        policy=policy_for(profile, settings),
    )
    if turn_key:
        binding.turn_key = turn_key
    return binding
