"""The dashboard in a real headless Chromium, served on loopback over the read-only engine."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboard.app import DashboardServer, create_app
from floor.market.simulated import SimulatedMarket
from floor.portfolio.reports import account_reports
from floor.runs.activity import write_log
from floor.settings import Settings
from tests.valued_floor import value_cycle

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOT_COPY = Path("/tmp/trading-floor-dashboard.png")

# Every browser test: slow, and only where Debian's Chromium and its driver are installed.
BROWSER_TEST = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
    ),
]
pytestmark = BROWSER_TEST


@pytest.fixture
def served(reader, database_url):
    settings = Settings(_env_file=None, database_url=database_url)
    app = create_app(reader, SimulatedMarket.name, settings, prefect_ui="http://127.0.0.1:4200")
    server = DashboardServer(app, "127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.fixture
def browser():
    driver = chromium(1600, 1500)
    yield driver
    driver.quit()


def chromium(width: int, height: int):
    """Headless Chromium with a ``width`` x ``height`` viewport (a phone's below 600 px)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    # An explicit driver path: selenium-manager never runs, nothing is downloaded.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    # A headless window is at least 500 px wide; the viewport of a phone is set by emulation.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    return driver


def wait_for(condition, timeout: float = 15.0, what: str = "the page"):
    """``condition()``'s first truthy result; an element Dash re-rendered mid-read means "not yet"."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except StaleElementReferenceException:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_page_shows_every_trader_with_value_chart_log_and_leaderboard(
    served, browser, traded_floor, tmp_path
):
    from selenium.webdriver.common.by import By

    browser.get(served.url)
    reports = {r["name"]: r for r in account_reports(traded_floor, SimulatedMarket.name)}

    def values():
        shown = {}
        for column in browser.find_elements(By.CSS_SELECTOR, ".trader"):
            found = column.find_elements(By.CSS_SELECTOR, ".value")
            if found:
                shown[column.get_attribute("data-trader")] = found[0].text
        return shown if len(shown) == len(reports) else None

    shown = wait_for(values, what="every trader's value")
    assert shown == {name: f"${r['portfolio_value']:,.2f}" for name, r in reports.items()}
    assert shown["Warren"] == "$10,041.90"

    titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".trader h3")]
    assert titles == ["Warren Patience", "George Bold", "Ray Systematic", "Cathie Crypto"]
    warren = browser.find_element(By.CSS_SELECTOR, '.trader[data-trader="Warren"]')
    assert "gain" in warren.find_element(By.CSS_SELECTOR, ".pnl").get_attribute("class")
    # its value chart, drawn by Plotly after Dash renders the figure
    wait_for(
        lambda: warren.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .scatterlayer .trace"), what="a chart"
    )
    # The fill of a moment ago waits a few seconds for a step that might have ordered it, then shows.
    lines = wait_for(
        lambda: len(found := warren.find_elements(By.CSS_SELECTOR, ".log .log-line")) == 5 and found,
        timeout=20,
        what="Warren's five lines",
    )
    assert "Sold 5 AAPL" in lines[0].text and "log-account" in lines[0].get_attribute("class")
    holdings = warren.find_element(By.CSS_SELECTOR, "table.positions")
    assert holdings.find_element(By.CSS_SELECTOR, "tbody tr").text.split()[:2] == ["AAPL", "5"]

    board = browser.find_element(By.ID, "leaderboard").text
    assert "SPY buy & hold" in board and "Sharpe" in board and "Warren Patience" in board
    comparison = wait_for(
        lambda: (
            len(found := browser.find_elements(By.CSS_SELECTOR, "#comparison .scatterlayer .trace")) == 5
            and found
        ),
        what="the comparison chart",
    )
    assert len(comparison) == 5  # four traders and the benchmark
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#cycles a")]
    assert links and all(h.startswith("http://127.0.0.1:4200/runs/flow-run/") for h in links)

    # A line written now shows up at the top of its trader's log within a few polls.
    write_log(traded_floor, "Ray", "function", "get_balance() -> $10,000.00")
    ray_log = '.trader[data-trader="Ray"] .log .log-line'

    def newest_ray_line():
        lines = browser.find_elements(By.CSS_SELECTOR, ray_log)
        return lines and "get_balance()" in lines[0].text and lines[0].get_attribute("class")

    assert "log-function" in wait_for(newest_ray_line, timeout=5, what="Ray's new line on top")

    # A burst of lines while the page polls: each shows once, newest on top, none lost.
    for i in range(40):
        write_log(traded_floor, "George", "trace", f"burst line {i:02d}")
        time.sleep(0.05)
    george_log = '.trader[data-trader="George"] .log .log-line'
    wait_for(
        lambda: len(browser.find_elements(By.CSS_SELECTOR, george_log)) >= 42, timeout=10, what="the burst"
    )
    time.sleep(1.5)  # a few more polls: nothing may be added twice
    texts = wait_for(lambda: [e.text for e in browser.find_elements(By.CSS_SELECTOR, george_log)])
    burst = [t.split(" ", 1)[1] for t in texts if "burst line" in t]
    assert burst == [f"burst line {i:02d}" for i in reversed(range(40))]
    assert len(texts) == 42

    # A new valuation shows on Refresh (the page does not wait for its 2-minute interval).
    value_cycle(traded_floor, {"AAPL": "120", "SPY": "520"}, datetime(2026, 11, 2, 18, tzinfo=UTC))
    browser.find_element(By.ID, "refresh").click()
    warren_value = '.trader[data-trader="Warren"] .value'
    wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, warren_value).text == "$10,146.90", what="the refresh"
    )
    board = wait_for(lambda: browser.find_element(By.ID, "leaderboard").text, what="the leaderboard")
    assert "SPY buy & hold $10,361.00" in board

    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    shutil.copyfile(shot, SCREENSHOT_COPY)
    assert shot.stat().st_size > 10_000
