"""`floor run --force` against a Polygon-compatible server on loopback, as a user would run it."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from floor.market.calendar import last_closed_session, market_status, sessions_until
from floor.market.universe import INSTRUMENTS
from floor.money import buy_fill, sell_fill
from floor.schema import cycles, prices, transactions
from tests.fakes.polygon_server import Fault, PolygonServer

pytestmark = pytest.mark.slow  # full Prefect cycles

KEY = "test-polygon-key"
CLOSES = {instrument.symbol: round(10 + 3.37 * n, 2) for n, instrument in enumerate(INSTRUMENTS)}


@pytest.fixture
def polygon():
    with PolygonServer(api_key=KEY) as server:
        for day, closes in history(last_closed_session(datetime.now(UTC))).items():
            server.set_closes(day, closes)
        yield server


def history(last: date) -> dict[date, dict[str, float]]:
    """80 sessions of closes around CLOSES, ending exactly at CLOSES: the strategies need history."""
    days = sessions_until(last, 80)
    return {
        day: {
            s: round(c * (1 + 0.02 * math.sin(i / 4 + n)), 2) if day != last else c
            for n, (s, c) in enumerate(CLOSES.items())
        }
        for i, day in enumerate(days)
    }


def floor_run(prefect_api: str, polygon: PolygonServer, *args: str, key: str = KEY, plan: str = "free"):
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "POLYGON_API_KEY": key,
        "POLYGON_PLAN": plan,
        "POLYGON_BASE_URL": polygon.base_url,
        "POLYGON_BACKOFF_SECONDS": "0.01",
        "POLYGON_RETRIES": "2",
    }
    return subprocess.run(
        [sys.executable, "-m", "deployments.cli", "run", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def trades(engine) -> list:
    with engine.connect() as conn:
        return list(conn.execute(select(transactions)))


def test_forced_run_trades_at_the_servers_prices_with_one_grouped_daily(prefect_api, floor, polygon) -> None:
    for _ in range(2):
        done = floor_run(prefect_api, polygon, "--force")
        assert done.returncode == 0, done.stderr[-3000:]
        assert "completed" in done.stdout

    made = trades(floor)
    assert made, "the four offline traders should have traded"
    for trade in made:
        server_price = Decimal(str(CLOSES[trade.symbol]))
        expected = buy_fill(server_price) if trade.side == "buy" else sell_fill(server_price)
        assert trade.price == expected, (trade.symbol, trade.side, trade.price, server_price)
    assert polygon.count("grouped") == 1  # two cycles, four traders, one trading day: one request
    assert polygon.count("last-trade") == polygon.count("snapshot") == 0
    with floor.connect() as conn:
        sources = set(conn.execute(select(prices.c.source, prices.c.stale)).all())
    assert sources == {("polygon-free", False)}


def test_a_server_failing_every_request_leaves_no_trade_and_says_why(prefect_api, floor, polygon) -> None:
    polygon.fail_always(Fault(500))
    done = floor_run(prefect_api, polygon, "--force")

    assert done.returncode == 1
    assert "no price at all" in done.stderr and "too many 500 error responses" in done.stderr
    assert trades(floor) == []
    with floor.connect() as conn:
        cycle = conn.execute(select(cycles)).one()
        assert conn.execute(select(prices)).all() == []
    assert cycle.status == "failed" and "no price at all" in cycle.note


def test_a_failing_server_after_a_good_day_trades_at_stale_prices_not_invented_ones(
    prefect_api, floor, polygon
) -> None:
    assert floor_run(prefect_api, polygon, "--force", "--trader", "Ray").returncode == 0
    polygon.fail_always(Fault(500))
    with floor.connect() as conn:  # make the cached batch look a day old, so the cycle must fetch
        conn.execute(prices.update().values(as_of=prices.c.as_of - timedelta(days=1)))
        conn.commit()
    done = floor_run(prefect_api, polygon, "--force", "--trader", "Ray")

    assert done.returncode == 0, done.stderr[-3000:]
    with floor.connect() as conn:
        latest_cycle = conn.execute(select(cycles.c.id).order_by(cycles.c.id.desc())).scalars().first()
        used = conn.execute(select(prices).where(prices.c.cycle_id == latest_cycle)).all()
    assert used and all(row.stale for row in used)
    assert {row.symbol: float(row.price) for row in used} == {s: CLOSES[s] for s in (r.symbol for r in used)}


def test_a_bad_key_never_crashes_the_schedule(prefect_api, floor, polygon) -> None:
    unforced = floor_run(prefect_api, polygon, key="not-the-key")
    if market_status(datetime.now(UTC)).open:
        assert unforced.returncode == 1 and "POLYGON_API_KEY" in unforced.stderr
    else:
        assert unforced.returncode == 0, unforced.stderr[-3000:]
        assert "Cycle skipped" in unforced.stdout and "POLYGON_API_KEY" in unforced.stdout

    forced = floor_run(prefect_api, polygon, "--force", key="not-the-key")
    assert forced.returncode == 1
    assert "Polygon rejected POLYGON_API_KEY" in forced.stderr
    assert trades(floor) == []


def test_a_batch_failing_its_checks_is_not_used_and_the_run_shows_it(
    monkeypatch, runtime, floor, polygon
) -> None:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.trading_cycle import trading_cycle

    for name, value in {
        "POLYGON_API_KEY": KEY,
        "POLYGON_PLAN": "paid",
        "POLYGON_BASE_URL": polygon.base_url,
        "POLYGON_RETRIES": "0",
        "PRICE_CACHE_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    now = datetime.now(UTC)
    polygon.set_trades({s: round(c * 1.01, 2) for s, c in CLOSES.items()}, now)
    first = asyncio.run(trading_cycle(force=True, traders=["Ray"]))
    polygon.set_trades({s: round(c * 3, 2) for s, c in CLOSES.items()}, now)  # +200% overnight: bad data
    state = asyncio.run(trading_cycle(force=True, traders=["Ray"], return_state=True))

    assert state.is_completed()
    second = state.result()
    if asyncio.iscoroutine(second):  # an async flow's state may hand back its coroutine
        second = asyncio.run(second)
    with floor.connect() as conn:
        used = {
            r.symbol: r for r in conn.execute(select(prices).where(prices.c.cycle_id == second["cycle_id"]))
        }
        bought = conn.execute(
            select(transactions).where(
                transactions.c.cycle_id == second["cycle_id"], transactions.c.side == "buy"
            )
        ).all()
    assert used and all(row.stale for row in used.values())  # the bad batch was not used
    assert {s: float(r.price) for s, r in used.items()} == {s: round(CLOSES[s] * 1.01, 2) for s in used}
    assert all(t.price == buy_fill(used[t.symbol].price) for t in bought)

    async def task_states() -> dict[str, str]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
            )
        return {run.name.rsplit("-", 1)[0]: run.state.type.value for run in runs}

    states = asyncio.run(task_states())
    assert states["check-price-batch"] == "FAILED" and states["cache-cycle-prices"] == "COMPLETED"
    assert first["status"] == "completed"
