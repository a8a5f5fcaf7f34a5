"""The ``floor`` command: reset, run, backtest, backtests, report, logs, resume, mcp, up, dashboard.

Entry points only wire: read settings once, connect, call ``floor`` or run a flow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys

from deployments.arguments import (
    FloorArgumentParser,
    command,
    day,
    dollars,
    nonblank,
    port_number,
    positive_int,
)
from deployments.console import LOG_LINE_LIMIT, TurnLines, cycle_summary, shorten
from floor.backtest.records import UnknownBacktest
from floor.errors import ConfigurationError


def _prepare_environment() -> None:
    # Offline-friendly defaults for the libraries we drive; a user's own setting wins.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # Prefect's temporary server gets 20 s to start by default: too little on a busy 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def _engine_and_traders():
    from floor.database import connect
    from floor.settings import Settings
    from floor.traders import load_traders

    settings = Settings()
    return settings, connect(settings), load_traders(settings)


def cmd_reset(args: argparse.Namespace) -> int:
    from floor.database import connect
    from floor.ledger.accounts import reset_accounts
    from floor.money import INITIAL_CASH, format_money
    from floor.settings import Settings
    from floor.traders import load_traders

    settings = Settings()
    traders = load_traders(settings)
    names = ", ".join(t.display_name for t in traders)
    if not args.yes:
        # Asked before the database is touched, so a refusal changes (and starts) nothing.
        if not sys.stdin.isatty():
            raise ConfigurationError(
                "reset deletes every trader's positions and transactions; "
                "pass --yes to confirm (there is no terminal to ask on)"
            )
        question = (
            f"Reset {len(traders)} traders ({names}) to {format_money(INITIAL_CASH)} cash, "
            "deleting their positions and transactions? [y/N] "
        )
        if input(question).strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 1
    reset_accounts(connect(settings), traders)
    print(f"Reset {len(traders)} traders to {format_money(INITIAL_CASH)} cash: {names}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    if not args.verbose:
        # Before Prefect is imported (it configures logging then): its console log, the temporary
        # server's banner included, stays quiet; the Prefect UI still gets every line.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")

    from floor.settings import Settings
    from floor.traders import find_trader, load_traders
    from flows.trading_cycle import trading_cycle, turn_log

    settings = Settings()
    if args.trader:  # fail fast, before Prefect starts, on a name that is not configured
        known = load_traders(settings)
        args.trader = [find_trader(known, name).name for name in args.trader]
    lines = TurnLines()
    turn_log.addHandler(lines)
    turn_log.setLevel(logging.INFO)
    turn_log.propagate = False  # printed here; --verbose shows Prefect's own line for it too
    try:
        state = asyncio.run(trading_cycle(force=args.force, traders=args.trader or None, return_state=True))
    finally:
        turn_log.removeHandler(lines)
    result = _flow_result(state, "Cycle", args.verbose)
    if result is None:
        return 1
    if result["status"] == "skipped":
        print(f"Cycle skipped: {result['reason']}. Use --force to trade anyway.")
        return 0
    for name, status in result["turns"].items():
        if name not in lines.printed:  # a turn that never started has no line of its own
            print(f"{name} {status}")
    print(cycle_summary(result))
    return 0


def _flow_result(state, what: str, verbose: bool) -> dict | None:
    """A finished flow run's result, or None after saying on stderr why the run failed."""
    import asyncio

    if not state.is_completed():
        hint = "" if verbose else " (--verbose shows Prefect's log)"
        print(f"{what} failed: {state.message}{hint}", file=sys.stderr)
        return None
    result = state.result()
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


def cmd_report(args: argparse.Namespace) -> int:
    from floor.ledger.risk import policy_for
    from floor.market.factory import market_source
    from floor.portfolio.reports import account_reports, format_report

    settings, engine, traders = _engine_and_traders()
    if args.name:
        from floor.traders import find_trader

        args.name = find_trader(traders, args.name).name
    policies = {t.name: policy_for(t, settings) for t in traders}
    reports = account_reports(engine, market_source(settings), args.name, policies=policies)
    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        print("\n\n".join(format_report(r) for r in reports) or "No accounts yet: run `floor reset`.")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from floor.market.calendar import NEW_YORK
    from floor.runs.activity import read_logs
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
            message = e.message if args.full else shorten(e.message)
            print(f"{e.created_at.astimezone(NEW_YORK):%Y-%m-%d %H:%M:%S %Z} {e.type:<10} {message}")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from floor.ledger.risk_book import resume
    from floor.traders import find_trader

    _, engine, traders = _engine_and_traders()
    name = find_trader(traders, args.name).name
    if resume(engine, name):
        print(f"{name} resumed: the drawdown halt is lifted and the peak counts from now")
    else:
        print(f"{name} is not halted; nothing to resume")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """``floor backtest``: run one (or resume one), or show or delete one."""
    if args.action in ("show", "delete", "resume") and args.id is None:
        raise ConfigurationError(
            f"floor backtest {args.action} needs the backtest's ID (`floor backtests` lists them)"
        )
    if args.action == "show":
        return _show_backtest(args)
    if args.action == "delete":
        return _delete_backtest(args)
    if args.replay is not None:
        given = [flag for flag, value in _span_flags(args) if value]
        if args.action is not None or given:
            also = ", ".join(given) or f"`{args.action}`"
            raise ConfigurationError(
                f"--replay plays the recorded backtest's own span, traders, model and seeds: drop {also}"
            )
    elif args.action is None and (args.start is None or args.end is None):
        raise ConfigurationError("floor backtest needs --start and --end (days written YYYY-MM-DD)")
    return _run_backtest(args)


def _span_flags(args: argparse.Namespace) -> list[tuple[str, object]]:
    return [
        ("--start", args.start), ("--end", args.end), ("--trader", args.trader), ("--model", args.model),
        ("--seeds", args.seeds != 1),
    ]  # fmt: skip


def _run_backtest(args: argparse.Namespace) -> int:

    if not args.verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from floor.backtest.records import plan_backtest
    from floor.settings import Settings
    from floor.traders import load_traders

    settings = Settings()
    replayed = args.replay
    if args.action is None and args.replay is None:  # every argument checked before Prefect starts
        profiles = load_traders(settings)
        spec = plan_backtest(
            profiles, args.start, args.end, traders=args.trader, model=args.model,
            seeds=args.seeds, label=args.label or "",
        )  # fmt: skip
        _say_estimate(settings, spec, profiles, args.max_dollars)
    elif args.replay is not None:
        from floor.backtest.recordings import recording_of
        from floor.database import connect

        replayed = recording_of(connect(settings), args.replay).id
    elif args.action == "resume":
        from floor.backtest.records import find_backtest
        from floor.database import connect

        replayed = find_backtest(connect(settings), args.id).replay_of
    replaying = replayed is not None
    if replaying:
        print(f"Replaying backtest {replayed} from its recorded model calls: no provider is asked.")
    with contextlib.ExitStack() as stack:
        if not os.environ.get("PREFECT_API_URL"):
            # Prefect's own temporary server would share the terminal's Ctrl+C and die mid-backtest.
            from deployments.serve import prefect_server

            os.environ["PREFECT_API_URL"] = stack.enter_context(prefect_server(_free_port(), detached=True))
            stack.callback(_send_what_prefect_holds)  # before the server stops, not at exit after it
        return _play_backtest(args, settings, replaying=replaying)


def _say_estimate(settings, spec, profiles, max_dollars: float | None) -> None:
    """Print what the backtest's model calls should cost; refuse one whose estimate is over the limit."""
    from floor.backtest.recordings import check_limit, describe_estimate, estimate_backtest
    from floor.database import connect

    estimate = estimate_backtest(connect(settings), spec, profiles)
    if estimate.basis:
        print(describe_estimate(estimate))
    check_limit(estimate, max_dollars)


def _send_what_prefect_holds() -> None:
    """Send the logs and events Prefect still queues; at exit it would wait for a stopped server."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _play_backtest(args: argparse.Namespace, settings, *, replaying: bool) -> int:
    import asyncio

    from deployments.console import BacktestBar
    from floor.backtest.records import find_backtest
    from floor.backtest.report import results_text
    from flows.backtest import backtest
    from tasks.backtest import stop_requested

    bar = BacktestBar(replaying=replaying)
    previous = signal.getsignal(signal.SIGINT)

    def stop(signum, frame):
        if stop_requested.is_set():
            raise KeyboardInterrupt
        stop_requested.set()
        bar.note("Stopping after the sessions being played (Ctrl+C again to quit at once)...")

    signal.signal(signal.SIGINT, stop)
    try:
        with bar:
            state = asyncio.run(
                backtest(
                    start=args.start, end=args.end, traders=args.trader or None, model=args.model,
                    seeds=args.seeds, label=args.label or "", resume=args.id, replay=args.replay,
                    max_dollars=args.max_dollars, return_state=True,
                )
            )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    result = _flow_result(state, "Backtest", args.verbose)
    if result is None:
        return 1
    from floor.database import connect

    record = find_backtest(connect(settings), result["backtest"])
    print(results_text(record))
    if record.results and record.replay_of is not None:
        print(f"Replayed from the recording of backtest {record.replay_of}: $0 spent on model calls.")
    elif record.results and record.results.get("cost"):
        print(f"Spent on model calls: ${record.results['cost']:.4f}")
    if record.stopped_at_limit:
        print(f"Play on with a higher limit: floor backtest resume {record.id} --max-dollars N")
    elif record.status == "stopped":
        print(f"Stopped. Play on with: floor backtest resume {record.id}")
    else:
        print(f"Details: floor backtest show {record.id} --json")
    return 0


def _show_backtest(args: argparse.Namespace) -> int:
    from floor.backtest.records import find_backtest
    from floor.backtest.report import results_text

    _, engine, _ = _engine_and_traders()
    record = find_backtest(engine, args.id)
    if args.json:
        spec = record.spec
        print(
            json.dumps(
                {
                    "id": record.id,
                    "label": spec.label,
                    "start": spec.start.isoformat(),
                    "end": spec.end.isoformat(),
                    "traders": list(spec.traders),
                    "model": spec.model,
                    "seeds": spec.seeds,
                    "status": record.status,
                    "note": record.note,
                    "replay_of": record.replay_of,
                    "created_at": record.created_at.isoformat(),
                    "finished_at": record.finished_at.isoformat() if record.finished_at else None,
                    "results": record.results,
                },
                indent=2,
            )
        )
    else:
        print(results_text(record))
    return 0


def _delete_backtest(args: argparse.Namespace) -> int:
    from floor.backtest.records import delete_backtest, find_backtest

    _, engine, _ = _engine_and_traders()
    record = find_backtest(engine, args.id)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigurationError("delete drops the backtest and its books; pass --yes to confirm")
        if input(f"Delete backtest {record.id} and its books? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 1
    delete_backtest(engine, record.id)
    print(f"Deleted backtest {record.id} and its books; the live floor is unchanged.")
    return 0


def cmd_backtests(args: argparse.Namespace) -> int:
    from floor.backtest.records import list_backtests

    _, engine, _ = _engine_and_traders()
    found = list_backtests(engine)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": b.id, "label": b.spec.label, "start": b.spec.start.isoformat(),
                        "end": b.spec.end.isoformat(), "traders": list(b.spec.traders), "model": b.spec.model,
                        "seeds": b.spec.seeds, "status": b.status, "created_at": b.created_at.isoformat(),
                    }
                    for b in found
                ],
                indent=2,
            )
        )  # fmt: skip
        return 0
    if not found:
        print("No backtests yet: floor backtest --start 2025-01-02 --end 2025-12-31")
        return 0
    for b in found:
        best = ""
        if b.results and b.results["traders"]:
            top = max(b.results["traders"], key=lambda t: t["return"] or -1e9)
            best = f"; best {top['trader']} {top['return'] * 100:+.2f}%" if top["return"] is not None else ""
        label = f" ({b.spec.label})" if b.spec.label else ""
        print(
            f"{b.id:>4}  {b.status:<9} {b.spec.start} to {b.spec.end}  {', '.join(b.spec.traders)}"
            f" x {b.spec.seeds}{label}{best}"
        )
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from floor.ledger.accounts import ensure_accounts
    from floor.traders import find_trader
    from servers.launch import run_server

    # Run by hand (say from an MCP client's config), the server prepares the database itself.
    _, engine, traders = _engine_and_traders()
    profile = find_trader(traders, args.trader)
    ensure_accounts(engine, traders)
    run_server(args.kind, profile.name)
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    from floor.settings import Settings
    from servers.service import serve_tools

    settings = Settings()
    host = args.host or settings.tools_host
    port = settings.tools_port if args.port is None else args.port
    serve_tools(settings, host, port)
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
    parser = FloorArgumentParser(
        prog="floor",
        description="A floor of autonomous traders, each with a paper-trading account, run by Prefect.",
        epilog="""Examples:
  floor reset --yes              every trader back to $10,000 cash
  floor run --force              one cycle now, even with the market closed
  floor report Warren            Warren's account
  floor logs Warren --last 20    Warren's last 20 steps
  floor backtest --start 2025-01-02 --end 2025-12-31
                                 a year replayed, every trader beside SPY
  floor up                       the floor on its schedule, with the dashboard

Run `floor COMMAND --help` for a command's options and examples.""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    reset = command(
        sub,
        "reset",
        cmd_reset,
        "every trader back to $10,000 cash and its persona's strategy",
        "Every configured trader back to $10,000 cash, no positions, no transactions and its persona's\n"
        "strategy. Asks first on a terminal; anywhere else it needs --yes.",
        """
  floor reset                    asks before it resets
  floor reset --yes              no question (scripts, CI)
""",
    )
    reset.add_argument("-y", "--yes", action="store_true", help="reset without asking")

    run = command(
        sub,
        "run",
        cmd_run,
        "run one trading cycle now, as a Prefect flow run",
        "One trading cycle now, as a Prefect flow run: market gate, prices, every trader's turn,\n"
        "valuation and data-quality checks. Prints one line per trader as its turn ends and a summary.\n"
        "Exits 0 when the cycle ran or was skipped because the market is closed, 1 when it failed.",
        """
  floor run                      one cycle, if the market is open
  floor run --force              trade even with the market closed
  floor run --force --trader Warren --trader Ray
  floor run --force --verbose    with Prefect's own log
""",
    )
    run.add_argument("--force", action="store_true", help="trade even when the market is closed")
    run.add_argument(
        "--trader", action="append", metavar="NAME", type=nonblank, help="only this trader (repeatable)"
    )
    run.add_argument("-v", "--verbose", action="store_true", help="also print Prefect's log lines")

    backtest = command(
        sub,
        "backtest",
        cmd_backtest,
        "replay past sessions through the traders; show, resume or delete a backtest",
        "Replay the NYSE sessions from --start to --end through the traders, point in time: each\n"
        "(trader, seed) trades in a book of its own from $10,000 and the live floor never changes.\n"
        "Shows a progress bar (sessions, ETA, model spend) and ends with every trader's return,\n"
        "Sharpe, Sortino, drawdown, win rate, turnover and cost beside SPY and an equal-weight\n"
        "universe. Ctrl+C stops after the sessions in play; `resume ID` plays on from there.",
        """
  floor backtest --start 2025-01-02 --end 2025-12-31
  floor backtest --start 2025-06-02 --end 2025-06-30 --trader Warren --trader Ray --seeds 3
  floor backtest --start 2025-01-02 --end 2025-03-31 --model openai/gpt-4o-mini --label "4o-mini Q1"
  floor backtest --start 2025-01-02 --end 2025-03-31 --model openai/gpt-4o-mini --max-dollars 5
  floor backtest --replay 3      the same backtest again from its recording: $0, the same ledger
  floor backtest resume 3        play on a stopped or killed backtest
  floor backtest show 3 --json   its results, for scripts
  floor backtest delete 3 --yes  drop it and its books
""",
    )
    backtest.add_argument(
        "action", nargs="?", choices=("show", "resume", "delete"), help="what to do with ID"
    )
    backtest.add_argument(
        "id", nargs="?", type=positive_int, metavar="ID", help="the backtest (see `floor backtests`)"
    )
    backtest.add_argument("--start", type=day, metavar="DAY", help="first day of the span (YYYY-MM-DD)")
    backtest.add_argument("--end", type=day, metavar="DAY", help="last day of the span, included")
    backtest.add_argument(
        "--trader", action="append", metavar="NAME", type=nonblank, help="only this trader (repeatable)"
    )
    backtest.add_argument(
        "--model", type=nonblank, metavar="M", help="every trader on this model instead of its own"
    )
    backtest.add_argument(
        "--seeds", type=positive_int, default=1, metavar="N", help="books per trader (default 1)"
    )
    backtest.add_argument("--label", type=nonblank, metavar="TEXT", help="a note to tell backtests apart")
    backtest.add_argument(
        "--replay", type=positive_int, metavar="ID",
        help="rerun backtest ID from its recorded model calls: no provider is asked, the same ledger",
    )  # fmt: skip
    backtest.add_argument(
        "--max-dollars", type=dollars, metavar="N",
        help="stop once the models have cost N dollars (and don't start if the estimate is over N)",
    )  # fmt: skip
    backtest.add_argument("--json", action="store_true", help="show: print JSON")
    backtest.add_argument("-y", "--yes", action="store_true", help="delete: without asking")
    backtest.add_argument("-v", "--verbose", action="store_true", help="also print Prefect's log lines")

    backtests = command(
        sub,
        "backtests",
        cmd_backtests,
        "list the backtests, newest first",
        "Every backtest, newest first: id, status, span, traders and seeds, and its best return.",
        """
  floor backtests
  floor backtests --json
""",
    )
    backtests.add_argument("--json", action="store_true", help="print JSON")

    report = command(
        sub,
        "report",
        cmd_report,
        "accounts: value, P&L, holdings, transactions",
        "Every trader's account (or one trader's): value, P&L, cash, holdings, recent transactions and\n"
        "model usage. --json prints the full record as numbers, for scripts.",
        """
  floor report                   every account
  floor report Warren            one trader's account
  floor report --json | jq '.[] | {name, portfolio_value}'
""",
    )
    report.add_argument("name", nargs="?", type=nonblank, metavar="NAME", help="only this trader's account")
    report.add_argument("--json", action="store_true", help="print JSON (money as numbers)")

    logs = command(
        sub,
        "logs",
        cmd_logs,
        "a trader's activity log, oldest first",
        "A trader's activity log, oldest first: each step, tool call, observation and trade, in New\n"
        f"York time. A message longer than {LOG_LINE_LIMIT} characters is cut short unless --full.",
        """
  floor logs Warren              Warren's whole log
  floor logs Warren --last 20    only the newest 20 entries
  floor logs Warren --full       every message in full
  floor logs Warren --json --last 5
""",
    )
    logs.add_argument("name", type=nonblank, metavar="NAME", help="the trader")
    logs.add_argument("--last", type=positive_int, metavar="N", help="only the newest N entries")
    logs.add_argument("--full", action="store_true", help="print long messages in full")
    logs.add_argument("--json", action="store_true", help="print JSON (messages always in full)")

    resume = command(
        sub,
        "resume",
        cmd_resume,
        "lift a trader's drawdown halt so it may buy again",
        "Lift a trader's drawdown halt (see RISK_DRAWDOWN_HALT_PCT): it may buy again, and its peak\n"
        "value counts afresh from now.",
        """
  floor resume Warren
""",
    )
    resume.add_argument("name", type=nonblank, metavar="NAME", help="the halted trader")

    mcp = command(
        sub,
        "mcp",
        cmd_mcp,
        "run one MCP server on stdio, bound to a trader",
        "Run one of the floor's MCP servers on stdio, bound to one trader: its tools act on that\n"
        "trader's account only. For an MCP client's configuration.",
        """
  floor mcp accounts --trader Warren
  floor mcp market --trader Cathie
""",
    )
    mcp.add_argument(
        "kind",
        choices=["accounts", "market", "push", "memory", "research"],
        help="which server: accounts, market, push, memory or research",
    )
    mcp.add_argument("--trader", required=True, metavar="NAME", type=nonblank, help="the trader it serves")

    tools = command(
        sub,
        "tools",
        cmd_tools,
        "serve every MCP server over streamable HTTP for the floor's turns, until stopped",
        "Serve the accounts, market, push, memory and research servers over MCP's streamable HTTP at\n"
        "/mcp/<kind>/, until stopped. Each session is bound to one trader by its turn's bearer token;\n"
        "`floor run` and `floor up` use the service TOOLS_URL names, or serve their own.",
        """
  floor tools                    http://127.0.0.1:8765/mcp/accounts/ and the others
  floor tools --port 8766
  TOOLS_ALLOWED_HOSTS=tools.example.com floor tools   behind a TLS proxy for that name
""",
    )
    tools.add_argument("--host", type=nonblank, help="address to bind (default TOOLS_HOST, 127.0.0.1)")
    tools.add_argument("--port", type=port_number, help="port (default TOOLS_PORT, 8765; 0 picks a free one)")

    up = command(
        sub,
        "up",
        cmd_up,
        "run the floor locally on its schedule until stopped",
        "Run the floor on this machine until stopped: the trading cycle on its cron schedule (market\n"
        "hours, every RUN_EVERY_N_MINUTES), a local Prefect server when PREFECT_API_URL is unset, and\n"
        "the dashboard.",
        """
  floor up                       serve until Ctrl+C
  floor up --now                 and run one forced cycle right away
""",
    )
    up.add_argument("--now", action="store_true", help="also run one forced cycle right away")

    dash = command(
        sub,
        "dashboard",
        cmd_dashboard,
        "serve the Dash dashboard (read-only) until stopped",
        "Serve the read-only Dash dashboard until stopped.",
        """
  floor dashboard                http://127.0.0.1:8050/
  floor dashboard --port 8060
  floor dashboard --host 0.0.0.0 --port 8050   reachable from other machines
""",
    )
    dash.add_argument("--host", type=nonblank, help="address to bind (default DASHBOARD_HOST, 127.0.0.1)")
    dash.add_argument(
        "--port", type=port_number, help="port (default DASHBOARD_PORT, 8050; 0 picks a free one)"
    )
    return parser


def _stop_on_sigterm() -> dict[str, int]:
    """Treat SIGTERM (kill, systemd, docker stop) like Ctrl+C, so exit-time cleanup runs.

    Python's default for SIGTERM ends the process at once, skipping atexit: the embedded
    Postgres this process started would then run for good.
    """
    received: dict[str, int] = {}

    def interrupt(signum, frame):
        received["signal"] = signum
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    return received


def main(argv: list[str] | None = None) -> None:
    _prepare_environment()
    args = build_parser().parse_args(argv)
    received = _stop_on_sigterm()
    try:
        code = args.func(args)
    except (ConfigurationError, UnknownBacktest) as exc:
        print(f"floor: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 128 + received.get("signal", signal.SIGINT)
    sys.exit(code)


if __name__ == "__main__":
    main()
