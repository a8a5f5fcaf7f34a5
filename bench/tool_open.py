"""Opening a turn's tools: connect + list tools over HTTP to the tool service vs spawning stdio servers.

HTTP: exactly as a turn opens them (``floor.agents.tool_servers.open_tools``), from the tool
service on a thread of this process (as ``floor run`` serves it), a fresh token per open. Stdio:
one ``python -m servers KIND --trader Warren`` child per kind through smolagents' ``MCPClient``,
what every turn started before the tool service. Printed: median and p90 wall time of each, over
--repeat opens (stdio: fewer, it is slow), for a turn's own servers (accounts, market) and for
every kind an LLM turn may open.

    python bench/tool_open.py [--repeat 30] [--stdio-repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

SETS = {
    "accounts + market": ("accounts", "market"),
    "all five": ("accounts", "market", "push", "memory", "research"),
}


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--stdio-repeat", type=int, default=5)
    args = parser.parse_args()

    os.environ["DATA_DIR"] = str(Path(tempfile.mkdtemp(prefix="floor-bench-tools-")) / "pg")
    os.environ.pop("DATABASE_URL", None)
    from mcp import StdioServerParameters
    from smolagents import MCPClient

    from floor import tool_access
    from floor.agents.tool_servers import ToolPass, ToolService, open_tools
    from floor.database import connect
    from floor.ledger.accounts import reset_accounts
    from floor.settings import Settings
    from floor.traders import load_traders
    from servers.service import start_in_process

    settings = Settings(_env_file=None)
    engine = connect(settings)
    reset_accounts(engine, load_traders(settings))
    database_url = engine.url.render_as_string(hide_password=False)
    service = start_in_process(settings, database_url)
    tools_at = ToolService(service.url)

    rows = []
    for label, kinds in SETS.items():
        http = []
        for _ in range(args.repeat + 2):
            token = tool_access.issue_token(
                engine, "Warren", turn_key="bench", cycle_id=None, kinds=kinds, ttl=timedelta(minutes=5)
            )
            start = time.perf_counter()
            with open_tools(ToolPass(tools_at, token), kinds) as tools:
                http.append(time.perf_counter() - start)
                assert tools
            tool_access.revoke_token(engine, token)
        http = http[2:]  # the first opens warm the client libraries
        stdio = []
        env = {**os.environ, "DATABASE_URL": database_url}
        for _ in range(args.stdio_repeat):
            params = [
                StdioServerParameters(
                    command=sys.executable, args=["-m", "servers", k, "--trader", "Warren"], env=env
                )
                for k in kinds
            ]
            start = time.perf_counter()
            with MCPClient(
                params, adapter_kwargs={"client_session_timeout_seconds": 60.0}, structured_output=False
            ):
                stdio.append(time.perf_counter() - start)
        rows.append((label, statistics.median(http), p90(http), statistics.median(stdio), p90(stdio)))
        print(
            f"  {label}: http {statistics.median(http) * 1000:.1f} ms, stdio {statistics.median(stdio):.2f} s"
        )
    service.stop()

    print()
    print(f"Opening a turn's tools (connect + list tools), cpus: {os.cpu_count()}")
    header = ("servers", "HTTP median", "HTTP p90", "stdio median", "stdio p90", "stdio / HTTP")
    print(f"{header[0]:<20}" + "".join(f"{h:>14}" for h in header[1:]))
    for label, h_med, h_p90, s_med, s_p90 in rows:
        cells = (
            f"{h_med * 1000:.1f} ms",
            f"{h_p90 * 1000:.1f} ms",
            f"{s_med:.2f} s",
            f"{s_p90:.2f} s",
            f"{s_med / h_med:.0f}x",
        )
        print(f"{label:<20}" + "".join(f"{c:>14}" for c in cells))


if __name__ == "__main__":
    main()
