"""How fast the dashboard renders and polls with a year of hourly history, for 4 and 32 traders.

Seeds a fresh embedded Postgres with a year of hourly cycles (8,760): every universe symbol's
price in each, one snapshot and one turn per trader per cycle, a few hundred trades and a few
thousand log lines per trader. Then serves the app over its read-only engine on loopback and
measures over HTTP, as a browser would ask:

- first full render: GET / + /_dash-layout + /_dash-dependencies, the portfolio callback
  (every panel, leaderboard, comparison chart, cycles) and the first log poll;
- a log poll that brings one new line, and an idle one (nothing new: its full response size).

Static JavaScript bundles are left out (the browser caches them). Medians of several runs.

    python bench/dashboard_load.py [--sizes 4 32] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import requests

from dashboard.app import DashboardServer, create_app, read_only_engine
from floor.accounts import reset_accounts
from floor.activity import write_log
from floor.database import create_floor_engine, migrate, sqlalchemy_url, start_embedded_postgres
from floor.market.simulated import SimulatedMarket
from floor.market.universe import INSTRUMENTS
from floor.money import buy_fill, sell_fill
from floor.settings import Settings
from floor.traders import TraderProfile

HOURS = 24 * 365
LOGS_PER_TRADER = 5_000
TRADES_PER_TRADER = 400
STYLES = [
    ("Patience", "value"),
    ("Bold", "bold"),
    ("Systematic", "risk_parity"),
    ("Crypto", "crypto_momentum"),
]


def copy_rows(pg, table: str, columns: list[str], rows) -> None:
    """COPY rows into a table over a psycopg connection (seeding a year row by row takes minutes)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    with pg.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())


def seed(engine, n: int) -> None:
    """A year of hourly history for ``n`` traders, written straight into the tables."""
    rng = np.random.default_rng(7)
    traders = [
        TraderProfile(f"T{i:03d}", STYLES[i % 4][0], STYLES[i % 4][1], f"Bench trader {i}.", "offline")
        for i in range(n)
    ]
    reset_accounts(engine, traders)
    start = datetime(2025, 11, 24, tzinfo=UTC)
    times = [start + timedelta(hours=h) for h in range(HOURS)]
    symbols = [i.symbol for i in INSTRUMENTS]
    walks = {
        i.symbol: i.base_price * np.exp(np.cumsum(rng.normal(0, i.annual_vol / np.sqrt(HOURS), HOURS)))
        for i in INSTRUMENTS
    }
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        ids = dict(conn.execute("SELECT name, id FROM accounts").fetchall())
        copy_rows(
            conn,
            "cycles",
            ["id", "started_at", "finished_at", "status", "forced", "flow_run_id"],
            (
                (
                    h + 1,
                    t.isoformat(),
                    (t + timedelta(seconds=40)).isoformat(),
                    "completed",
                    "f",
                    uuid.uuid4(),
                )
                for h, t in enumerate(times)
            ),
        )
        conn.execute("SELECT setval('cycles_id_seq', %s)", (HOURS,))
        copy_rows(
            conn,
            "prices",
            ["symbol", "price", "as_of", "source", "stale", "fetched_at", "cycle_id"],
            (
                (s, f"{walks[s][h]:.4f}", t.isoformat(), "simulated", "f", t.isoformat(), h + 1)
                for h, t in enumerate(times)
                for s in symbols
            ),
        )
        for trader in traders:
            account = ids[trader.name]
            held: dict[str, int] = {}
            cash = Decimal("10000.00")
            trades = []
            for h in sorted(rng.choice(HOURS, TRADES_PER_TRADER, replace=False)):
                symbol = symbols[int(rng.integers(len(symbols)))]
                price = Decimal(f"{walks[symbol][h]:.4f}")
                if held.get(symbol) and rng.random() < 0.5:
                    quantity, side, fill = held[symbol], "sell", sell_fill(price)
                    held.pop(symbol)
                    cash += fill * quantity
                else:
                    fill = buy_fill(price)
                    quantity = int(min(cash * Decimal("0.1"), cash) // fill)
                    if quantity < 1:
                        continue
                    side = "buy"
                    held[symbol] = held.get(symbol, 0) + quantity
                    cash -= fill * quantity
                trades.append(
                    (account, times[h].isoformat(), symbol, side, quantity, fill, fill * quantity, h)
                )
            copy_rows(
                conn,
                "transactions",
                [
                    "account_id",
                    "created_at",
                    "symbol",
                    "side",
                    "quantity",
                    "price",
                    "total",
                    "rationale",
                    "idempotency_key",
                    "cycle_id",
                ],
                (
                    (a, t, s, sd, q, p, tot, "bench", f"k{i}", h + 1)
                    for i, (a, t, s, sd, q, p, tot, h) in enumerate(trades)
                ),
            )
            copy_rows(
                conn,
                "positions",
                ["account_id", "symbol", "shares", "cost"],
                ((account, s, q, "0") for s, q in held.items()),
            )
            conn.execute("UPDATE accounts SET cash = %s WHERE id = %s", (cash, account))
            values = 10_000 * np.exp(np.cumsum(rng.normal(0.00001, 0.002, HOURS)))
            copy_rows(
                conn,
                "snapshots",
                [
                    "account_id",
                    "cycle_id",
                    "taken_at",
                    "cash",
                    "holdings_value",
                    "portfolio_value",
                    "profit_loss",
                    "positions",
                ],
                (
                    (
                        account,
                        h + 1,
                        t.isoformat(),
                        f"{v * 0.2:.2f}",
                        f"{v * 0.8:.2f}",
                        f"{v:.2f}",
                        f"{v - 10_000:.2f}",
                        "[]",
                    )
                    for h, (t, v) in enumerate(zip(times, values, strict=True))
                ),
            )
            copy_rows(
                conn,
                "turns",
                [
                    "cycle_id",
                    "account_id",
                    "kind",
                    "model",
                    "status",
                    "steps",
                    "input_tokens",
                    "output_tokens",
                    "cost",
                    "started_at",
                    "finished_at",
                ],
                (
                    (
                        h + 1,
                        account,
                        "trade",
                        "offline",
                        "succeeded",
                        6,
                        0,
                        0,
                        "0",
                        t.isoformat(),
                        t.isoformat(),
                    )
                    for h, t in enumerate(times)
                ),
            )
            kinds = ["trace", "agent", "function", "generation", "response", "account"]
            copy_rows(
                conn,
                "activity_logs",
                ["account_id", "created_at", "type", "message", "cycle_id"],
                (
                    (account, times[h].isoformat(), kinds[k % 6], f"bench line {k} of {trader.name}", h + 1)
                    for k, h in enumerate(sorted(rng.integers(0, HOURS, LOGS_PER_TRADER)))
                ),
            )
        conn.commit()
    finally:
        raw.close()
    with engine.begin() as c:
        c.exec_driver_sql("ANALYZE")


def find_ids(node, kind: str, found: list) -> list:
    if isinstance(node, dict):
        props = node.get("props", node)
        if isinstance(props.get("id"), dict) and props["id"].get("type") == kind:
            found.append(props["id"])
        for value in node.values():
            find_ids(value, kind, found)
    elif isinstance(node, list):
        for value in node:
            find_ids(value, kind, found)
    return found


def find_store(node):
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("id") == "log-cursor":
            return props["data"]
        for value in node.values():
            if (found := find_store(value)) is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            if (found := find_store(value)) is not None:
                return found
    return None


class Browserless:
    """The requests a Dash page makes, made with ``requests`` against the served app."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def load(self) -> dict:
        self.http.get(self.url).raise_for_status()
        layout = self.http.get(self.url + "_dash-layout").json()
        deps = self.http.get(self.url + "_dash-dependencies").json()
        self.refresh_dep = next(d for d in deps if "leaderboard.children" in d["output"])
        self.poll_dep = next(d for d in deps if "log-cursor.data" in d["output"])
        self.bodies = find_ids(layout, "trader-body", [])
        self.logs = find_ids(layout, "log", [])
        return find_store(layout)

    def refresh(self) -> requests.Response:
        body = {
            "output": self.refresh_dep["output"],
            "outputs": [
                [{"id": i, "property": "children"} for i in self.bodies],
                {"id": "leaderboard", "property": "children"},
                {"id": "comparison", "property": "figure"},
                {"id": "cycles", "property": "children"},
                {"id": "as-of", "property": "children"},
            ],
            "inputs": [
                {"id": "portfolio-refresh", "property": "n_intervals", "value": None},
                {"id": "refresh", "property": "n_clicks", "value": 0},
            ],
            "changedPropIds": [],
            "state": [[{"id": i, "property": "id", "value": i} for i in self.bodies]],
        }
        response = self.http.post(self.url + "_dash-update-component", json=body)
        response.raise_for_status()
        return response

    def poll(self, cursor: dict, tick: int) -> requests.Response:
        body = {
            "output": self.poll_dep["output"],
            "outputs": [
                [{"id": i, "property": "children"} for i in self.logs],
                {"id": "log-cursor", "property": "data"},
            ],
            "inputs": [{"id": "log-poll", "property": "n_intervals", "value": tick}],
            "changedPropIds": ["log-poll.n_intervals"],
            "state": [
                {"id": "log-cursor", "property": "data", "value": cursor},
                [{"id": i, "property": "id", "value": i} for i in self.logs],
            ],
        }
        response = self.http.post(self.url + "_dash-update-component", json=body)
        response.raise_for_status()
        return response


def response_bytes(response: requests.Response) -> int:
    """Status line, headers and body as sent on the wire (HTTP/1.1)."""
    head = f"HTTP/1.1 {response.status_code} {response.reason}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in response.headers.items()) + "\r\n"
    return len(head.encode()) + len(response.content)


def measure(n: int, repeat: int, workdir: Path) -> dict:
    url = sqlalchemy_url(start_embedded_postgres(workdir / f"pg{n}"))
    writer = create_floor_engine(url)
    migrate(writer)
    began = time.perf_counter()
    seed(writer, n)
    seeded = time.perf_counter() - began
    settings = Settings(_env_file=None, database_url=url)
    reader = read_only_engine(url)
    app = create_app(reader, SimulatedMarket(), settings)
    server = DashboardServer(app, "127.0.0.1", 0).start()
    client = Browserless(server.url)
    try:
        client.load()
        t0 = time.perf_counter()
        client.refresh()  # the first refresh after start reads the whole history (cold)
        cold = time.perf_counter() - t0
        renders, refreshes, layouts = [], [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            cursor = client.load()
            t1 = time.perf_counter()
            refreshed = client.refresh()
            t2 = time.perf_counter()
            idle = client.poll(cursor, 1)
            t3 = time.perf_counter()
            renders.append(t3 - t0)
            layouts.append(t1 - t0)
            refreshes.append(t2 - t1)
        busy, idle_times = [], []
        with writer.connect() as conn:
            first = conn.exec_driver_sql("SELECT name FROM accounts ORDER BY id LIMIT 1").scalar_one()
            snapshots = conn.exec_driver_sql("SELECT count(*) FROM snapshots").scalar_one()
        for tick in range(repeat * 2):
            write_log(writer, first, "function", f"poll probe {tick}")
            t0 = time.perf_counter()
            moved = client.poll(cursor, tick + 2)
            busy.append(time.perf_counter() - t0)
            cursor = next(v for v in moved.json()["response"].values() if "data" in v)["data"]
            t0 = time.perf_counter()
            idle = client.poll(cursor, tick + 100)
            idle_times.append(time.perf_counter() - t0)
            assert idle.status_code == 204, idle.status_code
        return {
            "traders": n,
            "snapshots": snapshots,
            "seed_s": seeded,
            "cold_refresh_s": cold,
            "render_s": statistics.median(renders),
            "layout_s": statistics.median(layouts),
            "refresh_s": statistics.median(refreshes),
            "refresh_kib": len(refreshed.content) / 1024,
            "poll_new_ms": statistics.median(busy) * 1000,
            "poll_idle_ms": statistics.median(idle_times) * 1000,
            "idle_status": idle.status_code,
            "idle_bytes": response_bytes(idle),
            "idle_body_bytes": len(idle.content),
        }
    finally:
        server.stop()
        reader.dispose()
        writer.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 32])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    workdir = Path(tempfile.mkdtemp(prefix="floor-dash-bench-"))
    print(
        "| traders | snapshots | first full render | of which layout | portfolio callback (size) "
        "| log poll, 1 new line | idle log poll | idle poll response |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        r = measure(n, args.repeat, workdir)
        print(
            f"| {r['traders']} | {r['snapshots']:,} | {r['render_s'] * 1000:.0f} ms "
            f"| {r['layout_s'] * 1000:.0f} ms "
            f"| {r['refresh_s'] * 1000:.0f} ms ({r['refresh_kib']:.0f} KiB) | {r['poll_new_ms']:.1f} ms "
            f"| {r['poll_idle_ms']:.1f} ms | {r['idle_status']}, {r['idle_body_bytes']} B body, "
            f"{r['idle_bytes']} B with headers |",
            flush=True,
        )
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}), flush=True)


if __name__ == "__main__":
    main()
