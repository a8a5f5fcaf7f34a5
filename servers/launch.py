"""Start one of the floor's MCP servers on stdio, bound to a trader."""

from __future__ import annotations

import argparse
import os

SERVER_KINDS = ("accounts", "market", "push", "memory", "research")


def run_server(kind: str, trader: str, *, turn_key: str | None = None, cycle_id: int | None = None) -> None:
    """Serve MCP on stdio until the client hangs up."""
    from floor.settings import Settings
    from servers.binding import bind_trader

    if kind not in SERVER_KINDS:
        raise SystemExit(f"unknown server {kind!r}; choose one of {', '.join(SERVER_KINDS)}")
    if kind in ("push", "memory", "research"):
        _research_server(kind, Settings(), trader).run("stdio")
        return
    settings = Settings()
    binding = bind_trader(settings, trader, turn_key=turn_key, cycle_id=cycle_id)
    if kind == "accounts":
        from servers.accounts_server import build_accounts_server

        server = build_accounts_server(binding)
    else:
        from servers.market_server import build_market_server

        server = build_market_server(binding, settings.open_sessions)
    server.run("stdio")


def _research_server(kind: str, settings, trader: str):
    """The push, memory or research server; none of them needs market data."""
    from floor.traders import find_trader, load_traders

    name = find_trader(load_traders(settings), trader).name
    if kind == "push":
        from floor.notify import build_notifier
        from servers.push_server import build_push_server

        return build_push_server(build_notifier(settings), name)
    if kind == "research":
        from servers.research_server import build_research_server

        return build_research_server(settings)
    from floor.database import connect
    from servers.memory_server import build_memory_server

    return build_memory_server(connect(settings, run_migrations=False), name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m servers", description=__doc__)
    parser.add_argument("kind", choices=SERVER_KINDS)
    parser.add_argument("--trader", required=True)
    parser.add_argument("--turn", default=os.environ.get("FLOOR_TURN_KEY") or None)
    parser.add_argument("--cycle", type=int, default=os.environ.get("FLOOR_CYCLE_ID") or None)
    args = parser.parse_args(argv)
    run_server(args.kind, args.trader, turn_key=args.turn, cycle_id=args.cycle)
