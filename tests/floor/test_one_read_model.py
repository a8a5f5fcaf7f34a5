"""One read model behind every reader: after cycles with several traders, the last snapshot, ``floor
report``, the dashboard and the accounts MCP resource show the same figures to the cent, flag the same
unpriced holding, and none of them sends a request to the market (a Polygon-compatible server on
loopback, configured as the floor's market, counts every request)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import anyio
import pytest
from mcp.shared.memory import create_connected_server_and_client_session
from sqlalchemy import select

from dashboard.trader_screen import money
from floor.ledger.trades import buy, sell
from floor.market import Quote
from floor.market.cache import PriceBook, store_quotes
from floor.market.factory import build_market, market_source
from floor.portfolio.read_model import read_accounts
from floor.portfolio.valuation import record_snapshots
from floor.runs.cycles import finish_cycle, start_cycle
from floor.schema import accounts, snapshots
from floor.settings import Settings
from servers.accounts_server import build_accounts_server
from servers.binding import TraderBinding
from tests.fakes.polygon_server import PolygonServer
from tests.fixed_prices import SetPrices

KEY = "test-polygon-key"
TRADERS = ["Warren", "George", "Ray", "Cathie"]
CYCLES = [  # four-place prices, so per-holding rounding to the cent is exercised
    {"AAPL": "100.1234", "MSFT": "400.5555", "SPY": "500.0001"},
    {"AAPL": "110.4567", "MSFT": "398.3333", "SPY": "505.9999"},
]


@pytest.fixture
def polygon():
    with PolygonServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def polygon_settings(polygon, database_url) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        polygon_api_key=KEY,
        polygon_base_url=polygon.base_url,
        polygon_retries=0,
    )


def trade_cycles(engine, settings: Settings) -> None:
    """Cathie bought COIN before the floor moved to Polygon (no Polygon price of it, ever); then two
    cycles at Polygon-source prices in which three traders trade."""
    buy(engine, "Cathie", "COIN", 7, "crypto exposure", SetPrices({"COIN": "200"}), idempotency_key="c0")
    market, source = build_market(settings), market_source(settings)
    orders = [
        [("Warren", buy, "AAPL", 10), ("George", buy, "MSFT", 3), ("Ray", buy, "SPY", 5)],
        [("Warren", sell, "AAPL", 4), ("George", buy, "MSFT", 2), ("Cathie", buy, "AAPL", 1)],
    ]
    for n, (quoted, placed) in enumerate(zip(CYCLES, orders, strict=True)):
        at = datetime(2026, 11, 2, 15 + n, tzinfo=UTC)
        cycle_id = start_cycle(engine, forced=True, flow_run_id=None)
        store_quotes(
            engine, [Quote(s, Decimal(p), at, source, fetched_at=at) for s, p in quoted.items()], cycle_id
        )
        book = PriceBook(engine, market, cycle_id)
        for trader, order, symbol, quantity in placed:
            order(
                engine,
                trader,
                symbol,
                quantity,
                f"{trader} on {symbol}",
                book,
                idempotency_key=f"{n}{trader}",
            )
        record_snapshots(engine, read_accounts(engine, source, cycle_id), cycle_id=cycle_id, taken_at=at)
        finish_cycle(engine, cycle_id, "completed")


def last_snapshots(engine) -> dict[str, dict]:
    query = (
        select(accounts.c.name, snapshots)
        .join(accounts, accounts.c.id == snapshots.c.account_id)
        .order_by(snapshots.c.id)
    )
    with engine.connect() as conn:
        return {r.name: r for r in conn.execute(query)}


def floor_report(polygon: PolygonServer, database_url: str) -> dict[str, dict]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "POLYGON_API_KEY": KEY,
        "POLYGON_BASE_URL": polygon.base_url,
        "POLYGON_RETRIES": "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "deployments.cli", "report", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return {r["name"]: r for r in json.loads(done.stdout)}


def mcp_resource(engine, settings: Settings, trader: str) -> dict:
    binding = TraderBinding(trader=trader, engine=engine, prices=PriceBook(engine, build_market(settings)))

    async def scenario():
        async with create_connected_server_and_client_session(build_accounts_server(binding)) as session:
            return await session.read_resource(f"accounts://accounts_server/{trader}")

    return json.loads(anyio.run(scenario).contents[0].text)


def dashboard_layout(settings: Settings) -> list[dict]:
    """The page as the dashboard serves it (panels filled in), as a flat list of components."""
    from dashboard.app import build_dashboard

    client = build_dashboard(settings).server.test_client()
    answer = client.get("/_dash-layout")
    assert answer.status_code == 200
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "props" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(answer.get_data(as_text=True)))
    return found


def dashboard_positions(body: dict) -> dict[str, str]:
    """Symbol -> market value as a trader's positions table shows it (its fifth cell)."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if node.get("type") == "Tr" and "data-symbol" in props:
                cells = [c["props"]["children"] for c in props["children"]]
                found[props["data-symbol"]] = cells[4]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    return found


def cents(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_every_reader_shows_the_same_figures_and_flags_and_none_asks_the_market(
    floor, polygon, polygon_settings, database_url
):
    trade_cycles(floor, polygon_settings)
    assert polygon.count() == 0  # trading inside cycles read the cycle's cached prices only
    stored = last_snapshots(floor)
    reports = floor_report(polygon, database_url)
    resources = {name: mcp_resource(floor, polygon_settings, name) for name in TRADERS}
    page = dashboard_layout(polygon_settings)
    assert polygon.count() == 0, [r.path for r in polygon.requests]

    shown_values = {
        c["props"]["id"]["trader"]: c
        for c in page
        if isinstance(c["props"].get("id"), dict) and c["props"]["id"].get("type") == "trader-body"
    }
    for name in TRADERS:
        snapshot, report, resource = stored[name], reports[name], resources[name]
        for figures in (report, resource):
            assert cents(figures["portfolio_value"]) == snapshot.portfolio_value, name
            assert cents(figures["holdings_value"]) == snapshot.holdings_value, name
            assert cents(figures["cash"]) == snapshot.cash, name
            assert {p["symbol"]: cents(p["market_value"]) for p in figures["positions"]} == {
                p["symbol"]: cents(p["value"]) for p in snapshot.positions
            }, name
        body = json.dumps(shown_values[name])
        assert f'"data-value": {float(snapshot.portfolio_value)}' in body, name
        assert dashboard_positions(shown_values[name]) == {
            p["symbol"]: money(Decimal(p["value"])) for p in snapshot.positions
        }, name

    # Cathie's COIN has had no price from this market: counted at cost and flagged everywhere.
    (coin,) = [p for p in stored["Cathie"].positions if p["symbol"] == "COIN"]
    assert coin["price"] is None and coin["price_source"] == "missing" and coin["value"] == "1402.80"
    assert reports["Cathie"]["unpriced"] == resources["Cathie"]["unpriced"] == ["COIN"]
    assert "no price" in json.dumps(shown_values["Cathie"])
    assert all(not reports[n]["unpriced"] for n in TRADERS[:3])
    # Three traders traded, and their values differ from the start.
    assert len({stored[n].portfolio_value for n in TRADERS[:3]}) == 3
