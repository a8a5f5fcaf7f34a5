"""Wall time, CPU and peak memory of one offline trading cycle for 4, 16 and 64 traders.

Beside each, a bare Prefect flow of the same shape (gate, fetch, N concurrent subflows each
running one task that does nothing, valuation, checks) gives the orchestration floor; the ratio
says what the traders themselves cost. Both run, alternately, against the same Prefect server,
started here as ``prefect server start`` with its own data in Postgres (a fresh database on the
server at --postgres), not Prefect's temporary SQLite server. Turns reach their tools through the
tool service, served on a thread of this process as ``floor run`` does. CPU is this process's
(user + system) over the cycle, per trader turn; memory is the peak resident set of this process
and its children, sampled every 50 ms.

With ``--tools process`` the turns connect instead to ``floor tools`` running as a process of its
own, as ``floor up`` runs it; its CPU is counted with this process's.

    python bench/cycle_scaling.py [--sizes 4 16 64] [--repeat 3] [--tools thread|process]
        [--postgres postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

STYLES = [
    ("Patience", "value"),
    ("Bold", "bold"),
    ("Systematic", "risk_parity"),
    ("Crypto", "crypto_momentum"),
]


def write_traders(path: Path, n: int) -> None:
    entries = []
    for i in range(n):
        lastname, style = STYLES[i % 4]
        entries.append(
            f'[[trader]]\nname = "T{i:03d}"\nlastname = "{lastname}"\nstyle = "{style}"\n'
            f'strategy = "Bench trader {i} playing {lastname}."\n'
        )
    path.write_text("\n".join(entries))


class PeakMemory:
    """Peak RSS of this process tree, sampled in a thread."""

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            try:
                procs = [self._me, *self._me.children(recursive=True)]
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            self.peak = max(self.peak, total)
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def bare_flow():
    """A Prefect flow of the cycle's shape whose steps do nothing, async tasks as the cycle's are."""
    from prefect import flow

    from floor.settings import Settings
    from tasks import floor_task as task  # the cycle's tasks' options: never cached

    @task()
    async def gate() -> bool:
        return True

    @task()
    async def fetch() -> int:
        return 0

    @task()
    async def turn(i: int) -> int:
        return i

    @flow(name="bare-trader-turn")
    async def subflow(i: int) -> int:
        return await turn(i)

    @task()
    async def value() -> int:
        return 0

    @task()
    async def check() -> bool:
        return True

    @flow(name="bare-cycle")
    async def cycle(n: int) -> None:
        await gate()
        await fetch()
        bound = asyncio.Semaphore(Settings().max_concurrent_turns)  # as the trading cycle does

        async def bounded(i: int):
            async with bound:
                return await subflow(i, return_state=True)

        await asyncio.gather(*(bounded(i) for i in range(n)), return_exceptions=True)
        await value()
        await check()

    return cycle


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432",
        help="a Postgres server (with pg_trgm) for the Prefect server's own database",
    )
    parser.add_argument("--port", type=int, default=4231, help="port of the benchmark's Prefect server")
    parser.add_argument(
        "--tools",
        choices=["thread", "process"],
        default="thread",
        help="serve the tools on a thread of the cycle's process (as `floor run`), or as `floor tools`",
    )
    args = parser.parse_args()

    import psutil

    from deployments.serve import prefect_server

    server_db = fresh_database(args.postgres, "floor_bench_prefect")
    with prefect_server(args.port, database_url=server_db) as api:
        os.environ["PREFECT_API_URL"] = api  # before Prefect is imported: every flow below uses it
        rows = measure(args, psutil.Process())
    report(rows, args.repeat, "a thread of the cycle" if args.tools == "thread" else "`floor tools`")


def fresh_database(server: str, name: str) -> str:
    """An empty database ``name`` on ``server``; returns its asyncpg URL for the Prefect server."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"


def cpu_seconds(*processes) -> float:
    return sum(t.user + t.system for t in (p.cpu_times() for p in processes))


def tool_service_process(port: int):
    """``floor tools`` on ``port`` as a process of its own, once it answers; its TOOLS_URL."""
    import subprocess
    import sys

    from servers.service import is_serving

    child = subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "tools", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not is_serving(url):
        if child.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"floor tools did not start on port {port}")
        time.sleep(0.2)
    return child, url


def measure(args, me) -> list[tuple]:
    from sqlalchemy import text

    from floor.database import connect
    from floor.ledger.accounts import reset_accounts
    from floor.schema import metadata
    from floor.settings import Settings
    from floor.traders import load_traders
    from tasks import runtime

    workdir = Path(tempfile.mkdtemp(prefix="floor-bench-"))
    os.environ["DATA_DIR"] = str(workdir / "pg")
    os.environ.pop("DATABASE_URL", None)
    bare = bare_flow()
    rows = []
    from flows.trading_cycle import trading_cycle

    measured = [me]
    service = None
    if args.tools == "process":
        import psutil

        os.environ["DATABASE_URL"] = connect(Settings()).url.render_as_string(hide_password=False)
        service, os.environ["TOOLS_URL"] = tool_service_process(args.port + 1)
        measured.append(psutil.Process(service.pid))

    asyncio.run(bare(1))  # warm the Prefect client and server once
    warm_up(trading_cycle, workdir)  # and the cycle's imports (GX, smolagents): a worker pays them once
    for n in args.sizes:
        write_traders(workdir / f"traders-{n}.toml", n)
        os.environ["FLOOR_TRADERS_FILE"] = str(workdir / f"traders-{n}.toml")
        for cached in (runtime.settings, runtime.engine, runtime.market):
            cached.cache_clear()
        settings = Settings()
        engine = connect(settings)
        cycle_times, bare_times, peaks, trades, failures, cpus = [], [], [], [], [], []
        for _ in range(args.repeat):
            with engine.begin() as conn:
                names = ", ".join(t.name for t in metadata.sorted_tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            reset_accounts(engine, load_traders(settings))
            with PeakMemory() as memory:
                start, cpu_start = time.perf_counter(), cpu_seconds(*measured)
                result = asyncio.run(trading_cycle(force=True))
                cycle_times.append(time.perf_counter() - start)
                cpus.append((cpu_seconds(*measured) - cpu_start) / n)
            print(f"    cycle of {n}: {cycle_times[-1]:.1f} s, {len(result['failed'])} failed", flush=True)
            peaks.append(memory.peak)
            assert result["status"] == "completed", result
            failures.append(len(result["failed"]))
            with engine.connect() as conn:
                trades.append(conn.execute(text("SELECT count(*) FROM transactions")).scalar_one())
            start = time.perf_counter()
            asyncio.run(bare(n))
            bare_times.append(time.perf_counter() - start)
        cycle_s, bare_s = statistics.median(cycle_times), statistics.median(bare_times)
        rows.append(
            (
                n,
                cycle_s,
                bare_s,
                cycle_s / bare_s,
                max(peaks) / 2**20,
                statistics.median(trades),
                max(failures),
                statistics.median(cpus),
            )
        )
        print(f"  {n} traders: cycle {cycle_s:.1f} s, bare {bare_s:.1f} s", flush=True)
    if service is not None:
        service.terminate()
        service.wait(timeout=30)
    return rows


def warm_up(trading_cycle, workdir: Path) -> None:
    """One untimed cycle of one trader."""
    from floor.database import connect
    from floor.ledger.accounts import reset_accounts
    from floor.settings import Settings
    from floor.traders import load_traders

    write_traders(workdir / "traders-warm.toml", 1)
    os.environ["FLOOR_TRADERS_FILE"] = str(workdir / "traders-warm.toml")
    settings = Settings()
    reset_accounts(connect(settings), load_traders(settings))
    asyncio.run(trading_cycle(force=True))


def report(rows: list[tuple], repeat: int, tools: str) -> None:
    print()
    print(
        f"One offline trading cycle vs a bare flow of its shape, on one Prefect server on Postgres, "
        f"tools served by {tools}, median of {repeat} runs (cpus: {os.cpu_count()})"
    )
    header = ("traders", "cycle s", "bare flow s", "ratio", "peak MiB", "trades", "failed", "CPU s/turn")
    print("".join(f"{h:>13}" for h in header))
    for n, cycle_s, bare_s, ratio, peak, trades, failed, cpu in rows:
        cells = (
            f"{n}",
            f"{cycle_s:.1f}",
            f"{bare_s:.2f}",
            f"{ratio:.2f}",
            f"{peak:.0f}",
            f"{trades:.0f}",
            f"{failed}",
        )
        print("".join(f"{c:>13}" for c in (*cells, f"{cpu:.2f}")))


if __name__ == "__main__":
    main()
