"""Upstream market-data requests per cycle, and the price step's time with a cold and a warm cache.

A Polygon-compatible server on loopback (tests/fakes/polygon_server.py, with a fixed latency per
answer standing in for the real API) counts every request. Each "cycle" runs the floor functions
the cycle's tasks call: the gate (market status), the price batch (cache first, else one fetch,
then the Great Expectations checks) and then, for every trader, what its market MCP server does
during a turn: 10 price look-ups and 5 sixty-day histories, each trader through its own PriceBook,
8 at a time. A full 64-trader Prefect cycle takes minutes on two cores, so the 64-trader figures
use this cache path directly; ``--full-cycle`` also times real 4-trader ``trading_cycle`` flows.

    python bench/market_requests.py [--traders 4 64] [--repeat 5] [--latency 0.15] [--full-cycle]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from floor.market.cache import PriceBook  # noqa: E402
from floor.market.calendar import gate_status, last_closed_session, sessions_until  # noqa: E402
from floor.market.checks import check_price_batch  # noqa: E402
from floor.market.factory import build_market  # noqa: E402
from floor.market.feed import fetch_batch, use_batch  # noqa: E402
from floor.market.universe import INSTRUMENTS  # noqa: E402
from floor.runs.cycles import start_cycle  # noqa: E402
from floor.settings import Settings  # noqa: E402
from tests.fakes.polygon_server import PolygonServer  # noqa: E402

KEY = "bench-key"
PLANS = ("free", "paid", "realtime")
LOOKUPS, HISTORIES, HISTORY_DAYS = 10, 5, 60


def seed(server: PolygonServer, now: datetime) -> None:
    symbols = [i.symbol for i in INSTRUMENTS]
    days = sessions_until(last_closed_session(now), 90)
    for d, day in enumerate(days):
        server.set_closes(day, {s: round(50 + n + 2 * math.sin(d / 5 + n), 2) for n, s in enumerate(symbols)})
    last = server.closes[days[-1]]
    server.set_trades({s: last[s] * 1.001 for s in symbols}, now)


def settings_for(server: PolygonServer, plan: str, database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        polygon_api_key=KEY,
        polygon_plan=plan,
        polygon_base_url=server.base_url,
        price_cache_seconds=600,
    )


def price_step(engine, settings: Settings) -> str:
    """What check-market-open, fetch-prices, check-price-batch and cache-cycle-prices do."""
    market = build_market(settings)
    now = datetime.now(UTC)
    gate_status(market, now, frozenset({"open"}))
    batch = fetch_batch(engine, market, now, settings)
    if batch.origin == "upstream":
        report = check_price_batch(
            batch.quotes, fresh_from=batch.fresh_from, previous=batch.previous, jump_bound=10
        )
        assert report.success, report.as_markdown()
    use_batch(engine, batch, cycle_id := start_cycle(engine, forced=True, flow_run_id=None))
    return str(cycle_id)


def traders_read(engine, settings: Settings, cycle_id: int, traders: int) -> None:
    symbols = [i.symbol for i in INSTRUMENTS]

    def one(t: int) -> None:
        book = PriceBook(engine, build_market(settings), cycle_id)  # one per trader, like its server
        for k in range(LOOKUPS):
            assert book.quote(symbols[(t * 3 + k) % len(symbols)]) is not None
        for k in range(HISTORIES):
            assert book.history(symbols[(t + k * 7) % len(symbols)], HISTORY_DAYS)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(traders)))


def wipe(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE prices, daily_closes, cycles RESTART IDENTITY CASCADE"))


def requests_per_cycle(engine, server, database_url, sizes) -> list[tuple]:
    rows = []
    for plan in PLANS:
        settings = settings_for(server, plan, database_url)
        for traders in sizes:
            wipe(engine)
            counts = []
            for _ in range(2):  # a cold cycle, then a warm one a moment later
                server.reset_counts()
                cycle_id = int(price_step(engine, settings))
                traders_read(engine, settings, cycle_id, traders)
                counts.append(
                    {
                        k: server.count(k)
                        for k in ("market-status", "grouped", "snapshot", "last-trade", "aggs")
                    }
                )
            rows.append((plan, traders, counts[0], counts[1]))
    return rows


def price_step_times(engine, server, database_url, repeat) -> list[tuple]:
    rows = []
    for plan in PLANS:
        settings = settings_for(server, plan, database_url)
        cold, warm = [], []
        for _ in range(repeat):
            wipe(engine)
            started = time.perf_counter()
            price_step(engine, settings)
            cold.append(time.perf_counter() - started)
            started = time.perf_counter()
            price_step(engine, settings)
            warm.append(time.perf_counter() - started)
        rows.append((plan, statistics.median(cold), statistics.median(warm)))
    return rows


def full_cycles(server, repeat) -> tuple[float, float]:
    """Real 4-trader trading_cycle flows (free plan): cold cache, then warm."""
    import asyncio

    from prefect.testing.utilities import prefect_test_harness

    from flows.trading_cycle import trading_cycle
    from tasks import runtime

    os.environ.update(
        POLYGON_API_KEY=KEY, POLYGON_PLAN="free", POLYGON_BASE_URL=server.base_url, FLOOR_MODEL="offline"
    )
    for cached in (runtime.settings, runtime.engine, runtime.market):
        cached.cache_clear()
    cold, warm = [], []
    with prefect_test_harness(server_startup_timeout=120):
        for _ in range(repeat):
            wipe(runtime.engine())
            for times in (cold, warm):
                started = time.perf_counter()
                result = asyncio.run(trading_cycle(force=True))
                times.append(time.perf_counter() - started)
                assert result["status"] == "completed", result
    return statistics.median(cold), statistics.median(warm)


def _split(counts: dict[str, int]) -> str:
    prices = counts["grouped"] + counts["snapshot"] + counts["last-trade"]
    return f"{sum(counts.values()):3} = {counts['market-status']} + {prices} + {counts['aggs']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traders", type=int, nargs="+", default=[4, 64])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per answer of the fake API")
    parser.add_argument("--full-cycle", action="store_true")
    args = parser.parse_args()

    from floor.database import create_floor_engine, migrate, sqlalchemy_url, start_embedded_postgres

    data_dir = Path(tempfile.mkdtemp(prefix="bench-market-"))
    os.chmod(data_dir, 0o777)  # embedded Postgres runs as its own user when started as root
    database_url = sqlalchemy_url(start_embedded_postgres(data_dir))
    os.environ["DATABASE_URL"] = database_url
    engine = create_floor_engine(database_url, pool_size=10)
    migrate(engine)

    with PolygonServer(api_key=KEY) as server:
        seed(server, datetime.now(UTC))
        server.latency = args.latency
        print(f"Upstream requests per cycle (fake API latency {args.latency * 1000:.0f} ms per answer)")
        print("plan      traders   cold cycle (status + prices + history)   warm cycle (same)")
        for plan, traders, cold, warm in requests_per_cycle(engine, server, database_url, args.traders):
            print(f"{plan:9} {traders:7}   {_split(cold):38} {_split(warm)}")
        print(f"\nPrice step (gate + batch + checks + store), median of {args.repeat}")
        for plan, cold, warm in price_step_times(engine, server, database_url, args.repeat):
            print(f"{plan:9} cold {cold:6.3f} s   warm {warm:6.3f} s   cold/warm {cold / warm:5.1f}x")
        if args.full_cycle:
            cold, warm = full_cycles(server, max(1, args.repeat // 2))
            print(f"\nFull 4-trader trading_cycle, free plan: cold {cold:.1f} s, warm {warm:.1f} s")
    engine.dispose()


if __name__ == "__main__":
    main()
