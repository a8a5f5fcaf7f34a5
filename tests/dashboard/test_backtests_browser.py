"""The backtests page in headless Chromium, on a desktop and 420 px wide: reached from the floor's top
bar, a backtest picked, its curves, table and matrix drawn, readable on the dark page, and no
sideways scroll; screenshots in /tmp/shots."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.app import DashboardServer, create_app
from floor.backtest.records import delete_backtest, find_backtest
from floor.market.simulated import SimulatedMarket
from floor.settings import Settings
from tests.dashboard.played_backtest import play_backtest, store_backtest, with_statistics, without_statistics
from tests.dashboard.test_backtests_page import BOOKS
from tests.dashboard.test_browser import BROWSER_TEST, chromium, wait_for

SHOTS = Path("/tmp/shots")

pytestmark = BROWSER_TEST


@pytest.fixture
def backtests(floor, settings) -> dict[str, int]:
    """An older backtest (no statistics), one with statistics, and the newest as played (8 sessions)."""
    played = play_backtest(floor, settings, ["Warren", "Ray"], seeds=2)
    results = find_backtest(floor, played).results
    delete_backtest(floor, played)  # its results are stored again below, newest
    return {
        "older": store_backtest(floor, settings, without_statistics(results), label="before intervals"),
        "statistics": store_backtest(floor, settings, with_statistics(results), label="June, with intervals"),
        "newest": store_backtest(floor, settings, results, label="June, as played"),
    }


@pytest.fixture
def served(reader, backtests, database_url):
    settings = Settings(_env_file=None, database_url=database_url)
    server = DashboardServer(create_app(reader, SimulatedMarket.name, settings), "127.0.0.1", 0).start()
    yield server
    server.stop()


def luminance(colour: str) -> float:
    red, green, blue = (int(c) for c in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


@pytest.mark.parametrize(("label", "width", "height"), [("desktop", 1600, 1500), ("phone", 420, 2400)])
def test_the_backtests_page(served, backtests, label, width, height):
    from selenium.webdriver.common.by import By

    browser = chromium(width, height)
    try:
        # From the floor's top bar to the backtests page, which opens the newest backtest.
        browser.get(served.url)
        link = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".topbar .nav a[href='/backtests/']"))
        link[0].click()
        picks = wait_for(
            lambda: (
                len(found := browser.find_elements(By.CSS_SELECTOR, ".backtest-picker a.pick")) == 3 and found
            ),
            what="the picker",
        )
        assert [p.get_attribute("href").rsplit("/", 1)[1] for p in picks] == [
            str(backtests[k]) for k in ("newest", "statistics", "older")
        ]
        assert "selected" in picks[0].get_attribute("class")
        wait_for(
            lambda: (
                browser.find_element(By.CSS_SELECTOR, ".backtest-head h2").text
                == f"Backtest {backtests['newest']}: June, as played"
            ),
            what="the newest backtest",
        )
        # Pick the one with statistics.
        picks[1].click()
        wait_for(
            lambda: (
                browser.find_element(By.CSS_SELECTOR, ".backtest-head h2").text
                == f"Backtest {backtests['statistics']}: June, with intervals"
            ),
            what="the picked backtest",
        )
        assert browser.current_url.endswith(f"/backtests/{backtests['statistics']}")

        # The curves: one per book and the two benchmarks.
        wait_for(
            lambda: len(browser.find_elements(By.CSS_SELECTOR, "#backtest-equity .scatterlayer .trace")) == 6,
            what="the equity curves",
        )
        legend = browser.find_element(By.CSS_SELECTOR, "#backtest-equity .legend").text
        assert all(name in legend for name in [*BOOKS, "SPY buy and hold", "equal weight"]), legend

        # The table: every book and benchmark, figures with their intervals, the marks.
        table_rows = browser.find_elements(By.CSS_SELECTOR, "table.backtest-results tbody tr")
        assert [r.get_attribute("data-row") for r in table_rows] == [
            *BOOKS,
            "SPY buy and hold",
            "equal weight",
        ]
        warren = table_rows[0].text
        assert "+8.10%" in warren and "−5.0% to +21.0%" in warren and "83%" in warren
        assert "inside the model's training data" in warren
        assert "too short" in table_rows[1].text and "cutoff unknown" in table_rows[1].text
        too_short = table_rows[1].find_element(By.CSS_SELECTOR, ".too-short")
        assert too_short.get_attribute("title").startswith("7 daily returns")

        # The matrix, with its percentages on the cells.
        matrix = wait_for(
            lambda: browser.find_elements(By.CSS_SELECTOR, "#backtest-pairwise .heatmaplayer"),
            what="the matrix",
        )
        cells = wait_for(
            lambda: (
                [
                    t.text
                    for t in browser.find_elements(By.CSS_SELECTOR, "#backtest-pairwise text")
                    if "%" in t.text
                ]
                or None
            ),
            what="the matrix's percentages",
        )
        assert matrix and {"62%", "91%", "55%", "38%"} <= set(cells)

        # Readable on the dark page: headers, names, the picker, the top bar and the axis labels.
        for selector in (
            "table.backtest-results th",
            "table.backtest-results .book-name",
            ".backtest-picker .pick-label",
            ".topbar .nav a",
            ".backtest-facts",
            "#backtest-pairwise .ytick text",
        ):
            colour = browser.execute_script(
                "const e = document.querySelector(arguments[0]);"
                "return getComputedStyle(e).fill !== 'none' && e instanceof SVGElement"
                " ? getComputedStyle(e).fill : getComputedStyle(e).color",
                selector,
            )
            assert luminance(colour) > 140, (selector, colour)

        # No sideways scroll, however narrow the window.
        scroll = browser.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll[0] <= scroll[1], scroll

        # The whole page in one screenshot.
        full = browser.execute_script(
            "return Math.ceil(document.querySelector('.page').getBoundingClientRect().bottom) + 12"
        )
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": full, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        SHOTS.mkdir(exist_ok=True)
        shot = SHOTS / f"backtests-{label}.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        browser.quit()


def test_a_missing_backtest_in_the_browser(served):
    from selenium.webdriver.common.by import By

    browser = chromium(1600, 900)
    try:
        browser.get(served.url + "backtests/404")
        said = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".banner.missing"), what="the message")
        assert said[0].text == "no backtest 404"
    finally:
        browser.quit()
