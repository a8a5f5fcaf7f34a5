"""The one launcher of the floor's MCP servers: every kind, built the same for both transports.

:func:`build_server` makes the FastMCP server of one kind over a binding source: a fixed
:class:`~servers.binding.TraderBinding` for stdio (:func:`run_server`, behind ``floor mcp``), or
the tool service's per-token source (:mod:`servers.service`, behind ``floor tools``).
"""

from __future__ import annotations

import argparse
import os

from floor.settings import Settings
from floor.tool_access import SERVER_KINDS
from servers.binding import BindingSource
from servers.strict_tools import StrictFastMCP


def build_server(kind: str, source: BindingSource, settings: Settings, **options: object) -> StrictFastMCP:
    """The ``kind`` server over ``source``; ``options`` go to FastMCP (auth, transport security)."""
    if kind == "accounts":
        from servers.accounts_server import build_accounts_server

        return build_accounts_server(source, **options)
    if kind == "market":
        from servers.market_server import build_market_server

        return build_market_server(source, settings.open_sessions, **options)
    if kind == "push":
        from servers.push_server import build_push_server, notifier_for

        return build_push_server(notifier_for(settings), source, **options)
    if kind == "research":
        from servers.research_server import build_research_server

        return build_research_server(settings, source, **options)
    if kind == "memory":
        from servers.memory_server import build_memory_server

        return build_memory_server(source, **options)
    raise SystemExit(f"unknown server {kind!r}; choose one of {', '.join(SERVER_KINDS)}")


def run_server(kind: str, trader: str, *, turn_key: str | None = None, cycle_id: int | None = None) -> None:
    """Serve MCP on stdio, bound to ``trader``, until the client hangs up."""
    from servers.binding import bind_trader

    settings = Settings()
    binding = bind_trader(settings, trader, turn_key=turn_key, cycle_id=cycle_id)
    build_server(kind, binding, settings).run("stdio")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m servers", description=__doc__)
    parser.add_argument("kind", choices=SERVER_KINDS)
    parser.add_argument("--trader", required=True)
    parser.add_argument("--turn", default=os.environ.get("FLOOR_TURN_KEY") or None)
    parser.add_argument("--cycle", type=int, default=os.environ.get("FLOOR_CYCLE_ID") or None)
    args = parser.parse_args(argv)
    run_server(args.kind, args.trader, turn_key=args.turn, cycle_id=args.cycle)
