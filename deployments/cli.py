"""The ``floor`` command: reset, run, report, logs, resume, mcp, up, dashboard.

Entry points only wire: read settings once, connect, call ``floor`` or run a flow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from floor.errors import ConfigurationError


def _prepare_environment() -> None:
    # Offline-friendly defaults for the libraries we drive; a user's own setting wins.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _engine_and_traders():
    from floor.database import connect
    from floor.settings import Settings
    from floor.traders import load_traders

    settings = Settings()
    return settings, connect(settings), load_traders(settings)


def cmd_reset(args: argparse.Namespace) -> int:
    from floor.accounts import reset_accounts

    _, engine, traders = _engine_and_traders()
    reset_accounts(engine, traders)
    print(f"Reset {len(traders)} traders to $10,000 cash: {', '.join(t.display_name for t in traders)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from floor.settings import Settings
    from floor.traders import find_trader, load_traders
    from flows.trading_cycle import trading_cycle

    settings = Settings()
    if args.trader:  # fail fast, before Prefect starts, on a name that is not configured
        known = load_traders(settings)
        args.trader = [find_trader(known, name).name for name in args.trader]
    state = asyncio.run(trading_cycle(force=args.force, traders=args.trader or None, return_state=True))
    if not state.is_completed():
        print(f"Cycle failed: {state.message}", file=sys.stderr)
        return 1
    result = state.result()
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    if result["status"] == "skipped":
        print(f"Cycle skipped: {result['reason']}")
        return 0
    turns = ", ".join(f"{name} {status}" for name, status in result["turns"].items())
    print(f"Cycle {result['cycle_id']} completed: {turns}; models ${result.get('cost', 0):.6f}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from floor.market.factory import build_market
    from floor.reports import account_reports, format_report
    from floor.risk import policy_for

    settings, engine, traders = _engine_and_traders()
    if args.name:
        from floor.traders import find_trader

        args.name = find_trader(traders, args.name).name
    policies = {t.name: policy_for(t, settings) for t in traders}
    reports = account_reports(engine, build_market(settings), args.name, policies=policies)
    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        print("\n\n".join(format_report(r) for r in reports) or "No accounts yet: run `floor reset`.")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from floor.activity import read_logs
    from floor.traders import find_trader

    _, engine, traders = _engine_and_traders()
    name = find_trader(traders, args.name).name
    entries = read_logs(engine, name, last=args.last)
    if args.json:
        print(
            json.dumps(
                [
                    {"id": e.id, "timestamp": e.created_at.isoformat(), "type": e.type, "message": e.message}
                    for e in entries
                ],
                indent=2,
            )
        )
    else:
        for e in entries:
            print(f"{e.created_at:%Y-%m-%d %H:%M:%S} {e.type:<10} {e.message}")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from floor.risk_book import resume
    from floor.traders import find_trader

    _, engine, traders = _engine_and_traders()
    name = find_trader(traders, args.name).name
    if resume(engine, name):
        print(f"{name} resumed: the drawdown halt is lifted and the peak counts from now")
    else:
        print(f"{name} is not halted; nothing to resume")
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from floor.accounts import ensure_accounts
    from floor.traders import find_trader
    from servers.launch import run_server

    # Run by hand (say from an MCP client's config), the server prepares the database itself.
    _, engine, traders = _engine_and_traders()
    profile = find_trader(traders, args.trader)
    ensure_accounts(engine, traders)
    run_server(args.kind, profile.name)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from deployments.serve import serve_floor

    return serve_floor(run_now=args.now)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from dashboard.app import DashboardServer, build_dashboard
    from floor.settings import Settings

    settings = Settings()
    host = args.host or settings.dashboard_host
    port = settings.dashboard_port if args.port is None else args.port
    server = DashboardServer(build_dashboard(settings), host, port)
    print(f"Dashboard: {server.url} (Ctrl+C to stop)", flush=True)
    server.serve_forever()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="floor", description="A floor of autonomous traders.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("reset", help="every trader back to $10,000 cash and its persona's strategy").set_defaults(
        func=cmd_reset
    )

    run = sub.add_parser("run", help="run one trading cycle now, as a Prefect flow run")
    run.add_argument("--force", action="store_true", help="trade even when the market is closed")
    run.add_argument("--trader", action="append", metavar="NAME", help="only this trader (repeatable)")
    run.set_defaults(func=cmd_run)

    report = sub.add_parser("report", help="accounts: value, P&L, holdings, transactions")
    report.add_argument("name", nargs="?")
    report.add_argument("--json", action="store_true")
    report.set_defaults(func=cmd_report)

    logs = sub.add_parser("logs", help="a trader's activity log, oldest first")
    logs.add_argument("name")
    logs.add_argument("--json", action="store_true")
    logs.add_argument("--last", type=int, metavar="N")
    logs.set_defaults(func=cmd_logs)

    resume = sub.add_parser("resume", help="lift a trader's drawdown halt so it may buy again")
    resume.add_argument("name")
    resume.set_defaults(func=cmd_resume)

    mcp = sub.add_parser("mcp", help="run one MCP server on stdio, bound to a trader")
    mcp.add_argument("kind", choices=["accounts", "market", "push", "memory", "research"])
    mcp.add_argument("--trader", required=True, metavar="NAME")
    mcp.set_defaults(func=cmd_mcp)

    up = sub.add_parser("up", help="run the floor locally on its schedule until stopped")
    up.add_argument("--now", action="store_true", help="also run one forced cycle right away")
    up.set_defaults(func=cmd_up)

    dash = sub.add_parser("dashboard", help="serve the Dash dashboard (read-only) until stopped")
    dash.add_argument("--host", help="address to bind (default DASHBOARD_HOST, 127.0.0.1)")
    dash.add_argument("--port", type=int, help="port (default DASHBOARD_PORT, 8050)")
    dash.set_defaults(func=cmd_dashboard)
    return parser


def main(argv: list[str] | None = None) -> None:
    _prepare_environment()
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except ConfigurationError as exc:
        print(f"floor: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
