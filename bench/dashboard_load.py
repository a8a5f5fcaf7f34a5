"""How fast the dashboard renders and polls with a year of hourly history, for 4 and 32 traders.

Seeds a fresh embedded Postgres with a year of hourly cycles (8,760): every universe symbol's
price in each, one snapshot and one turn per trader per cycle, a few hundred trades and a few
thousand log lines per trader. Then serves the app over its read-only engine on loopback and
measures over HTTP, as a browser would ask:

- first full render: GET / + /_dash-layout (which arrives with every panel, the leaderboard, the
  comparison chart and recent cycles filled in) + /_dash-dependencies and the first log poll;
- a portfolio refresh (the 2-minute interval, the Refresh button);
- a log poll that brings one new line, and an idle one (nothing new: its full response size).

Static JavaScript bundles are left out (the browser caches them). Medians of several runs.
With ``--browser``, also the time until headless Chromium shows every value and chart.

    python bench/dashboard_load.py [--sizes 4 32] [--repeat 5] [--browser]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import requests
from dashboard_seed import seed  # bench/ is on the path when this script runs

from dashboard.app import DashboardServer, create_app, read_only_engine
from floor.database import create_floor_engine, migrate, sqlalchemy_url, start_embedded_postgres
from floor.market.simulated import SimulatedMarket
from floor.runs.activity import write_log
from floor.settings import Settings


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


def browser_loads(url: str, traders: int, repeat: int) -> tuple[float, float]:
    """Seconds until headless Chromium shows every value and chart: a first visit, then the median
    of later visits (JavaScript cached). Chromium and chromedriver from /usr/bin."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1600,1500",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        times = []
        for _ in range(repeat + 1):
            t0 = time.perf_counter()
            driver.get(url)
            while (
                len(driver.find_elements(By.CSS_SELECTOR, ".trader .value")) < traders
                or len(driver.find_elements(By.CSS_SELECTOR, ".trader .js-plotly-plot")) < traders
                or len(driver.find_elements(By.CSS_SELECTOR, "#comparison .scatterlayer .trace"))
                < traders + 1
            ):
                time.sleep(0.02)
            times.append(time.perf_counter() - t0)
        return times[0], statistics.median(times[1:])
    finally:
        driver.quit()


def measure(n: int, repeat: int, workdir: Path, browser: bool = False) -> dict:
    url = sqlalchemy_url(start_embedded_postgres(workdir / f"pg{n}"))
    writer = create_floor_engine(url)
    migrate(writer)
    began = time.perf_counter()
    seed(writer, n)
    seeded = time.perf_counter() - began
    settings = Settings(_env_file=None, database_url=url)
    reader = read_only_engine(url)
    app = create_app(reader, SimulatedMarket.name, settings)
    server = DashboardServer(app, "127.0.0.1", 0).start()
    client = Browserless(server.url)
    try:
        t0 = time.perf_counter()
        client.load()  # the first page after start reads the whole history (cold)
        cold = time.perf_counter() - t0
        renders, refreshes, layouts = [], [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            cursor = client.load()  # the layout arrives with every panel filled in
            t1 = time.perf_counter()
            idle = client.poll(cursor, 1)
            t2 = time.perf_counter()
            refreshed = client.refresh()  # what the 2-minute interval and the Refresh button ask
            t3 = time.perf_counter()
            renders.append(t2 - t0)
            layouts.append(t1 - t0)
            refreshes.append(t3 - t2)
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
        first_visit, later_visits = browser_loads(server.url, n, repeat) if browser else (None, None)
        return {
            "browser_first_s": first_visit,
            "browser_later_s": later_visits,
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
    parser.add_argument("--browser", action="store_true", help="also time page loads in headless Chromium")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    workdir = Path(tempfile.mkdtemp(prefix="floor-dash-bench-"))
    print(
        "| traders | snapshots | first full render | of which layout | refresh callback (size) "
        "| log poll, 1 new line | idle log poll | idle poll response |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        r = measure(n, args.repeat, workdir, args.browser)
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
