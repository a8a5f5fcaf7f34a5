"""A trader's screen in headless Chromium, on a desktop and 420 px wide: positions equal to the ledger's,
trade markers on the value chart, the readable activity feed, and no sideways scroll on a phone."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from dashboard import trader_screen as fmt
from dashboard.app import DashboardServer, create_app
from floor.ledger.trades import buy
from floor.market.cache import PriceBook
from floor.market.simulated import SimulatedMarket
from floor.portfolio.read_model import read_accounts
from floor.runs.activity import write_logs
from floor.schema import transactions
from floor.settings import Settings
from tests.dashboard.test_browser import BROWSER_TEST, chromium, wait_for
from tests.valued_floor import MARKET

SCREENS = Path("/tmp/screens")

pytestmark = BROWSER_TEST

QUOTE = {"kind": "quote", "symbol": "AAPL", "price": 99.0, "as_of": "2026-11-02T17:00:00Z", "source": MARKET}


def ray_turn(engine) -> None:
    """A turn of Ray's as the tracer and the ledger write it: a lookup, ten histories, a buy."""
    write_logs(
        engine,
        "Ray",
        [
            ("trace", "Trade turn started (offline)"),
            ("generation", "Step 1 [action]: (tool calls only)"),
            ("function", 'Step 1 [tool call] lookup_share_price({"symbol": "AAPL"})'),
            ("agent", f"Step 1 [observation] {json.dumps(QUOTE)}"),
            ("generation", "Step 2 [action]: Now the 60-day price history."),
            (
                "function",
                "Step 2 [tool call] get_price_histories("
                + json.dumps(
                    {
                        "symbols": ["AAPL", "MSFT", "SPY", "TLT", "GLD", "KO", "JNJ", "XOM", "JPM", "IEF"],
                        "days": 60,
                    }
                )
                + ")",
            ),
            ("agent", 'Step 2 [observation] {"kind": "histories", "histories": []}'),
        ],
        cycle_id=3,
    )
    trade = buy(
        engine,
        "Ray",
        "AAPL",
        3,
        "risk parity wants equities",
        PriceBook(engine, SimulatedMarket(), 3),
        idempotency_key="ray-1",
        cycle_id=3,
    )
    with engine.begin() as conn:  # filled at the cycle's time, as in tests/valued_floor.py
        conn.execute(
            update(transactions)
            .where(transactions.c.id == trade.id)
            .values(created_at=datetime(2026, 11, 2, 17, tzinfo=UTC))
        )
    receipt = {
        "kind": "trade",
        "side": "buy",
        "symbol": "AAPL",
        "quantity": 3,
        "price": float(trade.price),
        "total": float(trade.total),
        "rationale": "risk parity wants equities",
    }
    write_logs(
        engine,
        "Ray",
        [
            ("generation", "Step 3 [action]: (tool calls only)"),
            (
                "function",
                'Step 3 [tool call] buy_shares({"symbol": "AAPL", "quantity": 3, '
                '"rationale": "risk parity wants equities"})',
            ),
            ("agent", f"Step 3 [observation] {json.dumps(receipt)}"),
        ],
        cycle_id=3,
    )


@pytest.fixture
def served(reader, traded_floor, database_url):
    ray_turn(traded_floor)
    settings = Settings(_env_file=None, database_url=database_url)
    app = create_app(reader, MARKET, settings, prefect_ui=None)
    server = DashboardServer(app, "127.0.0.1", 0).start()
    yield server
    server.stop()


def expected_rows(engine) -> dict[str, list[list[str]]]:
    """Each trader's position rows as the ledger's figures (the read model) format them."""
    return {
        v.trader: [
            [
                h.symbol,
                f"{h.shares:,}",
                fmt.money(h.average_cost),
                "no price" if h.missing else fmt.money(h.price),
                fmt.money(h.market_value),
                fmt.signed_money(h.unrealised),
                fmt.percent(h.unrealised_pct),
                f"{float(h.weight_pct):.2f}%",
            ]
            for h in v.holdings
        ]
        for v in read_accounts(engine, MARKET)
    }


def shown_rows(browser, trader: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    rows = browser.find_elements(By.CSS_SELECTOR, f'.trader[data-trader="{trader}"] table.positions tbody tr')
    return [[td.text for td in row.find_elements(By.CSS_SELECTOR, "td")] for row in rows]


@pytest.mark.parametrize(("label", "width", "height"), [("desktop", 1600, 1500), ("phone", 420, 2400)])
def test_the_trader_screen(served, traded_floor, tmp_path, label, width, height):
    from selenium.webdriver.common.by import By

    browser = chromium(width, height)
    try:
        browser.get(served.url)
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".trader table.positions"), what="positions")
        expected = expected_rows(traded_floor)
        assert expected["Warren"] == [
            ["AAPL", "5", "$100.20", "$99.00", "$495.00", "−$6.00", "−1.20%", "4.93%"]
        ]
        for trader, rows in expected.items():
            if rows:
                assert wait_for(lambda t=trader: shown_rows(browser, t) or None) == rows, trader

        # Trade markers on Warren's value chart: one buy, one sell, on the line.
        warren = '.trader[data-trader="Warren"]'
        chart_traces = f"{warren} .value-chart .scatterlayer .trace"

        # Plotly draws after the table is shown: wait for the value line, the buys and the sells.
        def drawn():
            found = browser.find_elements(By.CSS_SELECTOR, chart_traces)
            return found if len(found) >= 3 else None

        traces = wait_for(drawn, what="Warren's chart traces")
        assert len(traces) == 3
        markers = browser.find_elements(
            By.CSS_SELECTOR, f"{warren} .value-chart .scatterlayer .trace .points path"
        )
        assert len(markers) == 2
        # Sells show their realised P&L; each trade its total and rationale.
        trades = browser.find_element(By.CSS_SELECTOR, f"{warren} table.trades").text
        assert "+$47.90" in trades and "$548.90" in trades and "took profit" in trades and "cheap" in trades

        # Ray's activity: one readable line per step, newest on top, the fill right after its order.
        feed = '.trader[data-trader="Ray"] .log .log-line'
        texts = wait_for(lambda: [e.text for e in browser.find_elements(By.CSS_SELECTOR, feed)] or None)
        readable = [t.split(" ", 1)[1] for t in texts]
        assert readable == [
            "Bought 3 AAPL at $99.20 ($297.60); cash now $9,702.40",
            "bought 3 AAPL at $99.20 — risk parity wants equities",
            "history of 10 symbols (60 days)",
            "looked up AAPL: $99.00",
            "Trade turn started (offline)",
        ]
        # The full tool output is one click away.
        step = browser.find_elements(By.CSS_SELECTOR, f"{feed}")[2]
        assert step.tag_name == "details"
        step.find_element(By.CSS_SELECTOR, "summary").click()
        detail = wait_for(lambda: step.find_element(By.CSS_SELECTOR, ".log-detail").text or None)
        assert '"IEF"], "days": 60})' in detail and "get_price_histories(" in detail

        # The time range control reads on the dark page (Dash's own style is dark text for a light one)
        # and narrows every chart to the last day of valuations.
        shade = browser.execute_script(
            "return getComputedStyle(document.querySelector('#range label')).color"
        )
        red, green, blue = (int(c) for c in shade[shade.index("(") + 1 : shade.index(")")].split(",")[:3])
        assert 0.2126 * red + 0.7152 * green + 0.0722 * blue > 150, shade
        browser.find_element(By.CSS_SELECTOR, "#range input[value='day']").click()
        assert browser.find_element(By.CSS_SELECTOR, "#range input[value='day']").is_selected()

        # No sideways scroll, however narrow the window.
        scroll = browser.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll[0] <= scroll[1], scroll
        if label == "phone":
            assert browser.execute_script("return window.innerWidth") == width
            # and a trader's own tables fit: no box to scroll sideways either
            boxes = browser.execute_script(
                "return Array.from(document.querySelectorAll('.trader .table-wrap'))"
                ".map(e => [e.scrollWidth, e.clientWidth])"
            )
            assert boxes and all(inner <= outer for inner, outer in boxes), boxes
        shot = tmp_path / f"trader-screen-{label}.png"
        browser.execute_script("document.querySelector('.trader[data-trader=\"Warren\"]').scrollIntoView()")
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        SCREENS.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENS / shot.name)
    finally:
        browser.quit()
