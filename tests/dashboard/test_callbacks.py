"""The dashboard's callbacks called directly, over the dashboard's read-only engine."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pytest
from dash import no_update
from dash.exceptions import PreventUpdate
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dashboard import log_feed, trader_screen
from dashboard.app import create_app, read_only_engine
from dashboard.callbacks import DashboardCallbacks
from dashboard.layout import page
from floor.errors import ConfigurationError
from floor.market.simulated import SimulatedMarket
from floor.portfolio import metrics
from floor.portfolio.reports import account_reports
from floor.portfolio.value_history import ValueHistory
from floor.runs.activity import write_log
from floor.settings import Settings

TRADERS = ["Warren", "George", "Ray", "Cathie"]
PREFECT_UI = "http://127.0.0.1:4200"


def walk(component):
    """Every component in a tree (children lists, single children and props holding components)."""
    yield component
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        for child in children:
            yield from walk(child)
    elif children is not None and hasattr(children, "to_plotly_json"):
        yield from walk(children)


def texts(component) -> list[str]:
    found = []
    for c in walk(component):
        if isinstance(c, str):
            found.append(c)
        elif isinstance(getattr(c, "children", None), str):
            found.append(c.children)
    return found


def with_class(components, name: str) -> list:
    return [c for c in components if name in (getattr(c, "className", "") or "").split()]


@pytest.fixture
def callbacks(reader):
    return DashboardCallbacks(reader, SimulatedMarket.name, prefect_ui=PREFECT_UI)


def body_ids():
    return [{"type": "trader-body", "trader": name} for name in TRADERS]


def log_ids():
    return [{"type": "log", "trader": name} for name in TRADERS]


def test_trader_panels_show_the_values_floor_report_prints(callbacks, traded_floor):
    bodies, *_ = callbacks.refresh_portfolios(1, 0, body_ids())
    reports = {r["name"]: r for r in account_reports(traded_floor, "simulated")}  # floor report --json
    for name, body in zip(TRADERS, bodies, strict=True):
        nodes = [n for part in body for n in walk(part)]
        (value,) = with_class(nodes, "value")
        assert value.children == f"${reports[name]['portfolio_value']:,.2f}"
    warren = [n for part in bodies[0] for n in walk(part)]
    assert with_class(warren, "value")[0].children == "$10,041.90"
    (pnl,) = with_class(warren, "pnl")
    assert pnl.children == "+$41.90 (+0.42%)" and "gain" in pnl.className
    flat = with_class([n for part in bodies[1] for n in walk(part)], "pnl")[0]
    assert flat.children == "+$0.00 (+0.00%)" and "flat" in flat.className
    shown = [t for part in bodies[0] for t in texts(part)]
    assert "cash $9,546.90 · realised +$47.90" in shown
    # Positions with average cost, price, value, unrealised P&L ($ and %) and weight.
    (position,) = [
        n for n in warren if type(n).__name__ == "Tr" and "data-symbol" in n.to_plotly_json()["props"]
    ]
    assert texts(position) == ["AAPL", "5", "$100.20", "$99.00", "$495.00", "−$6.00", "−1.20%", "4.93%"]
    assert "Transactions (2; 1 sells shown with realised P&L)" in shown
    trades = [texts(n) for n in warren if getattr(n, "className", None) in ("trade", "rationale")]
    assert trades == [
        ["11-02 16:00", "sell", "5", "AAPL", "$109.78", "$548.90", "+$47.90"],
        ["took profit"],
        ["11-02 15:00", "buy", "10", "AAPL", "$100.20", "$1,002.00", ""],
        ["cheap"],
    ]


def test_trader_chart_plots_each_snapshot(callbacks):
    bodies, *_ = callbacks.refresh_portfolios(1, 0, body_ids())
    graphs = [n for part in bodies[0] for n in walk(part) if type(n).__name__ == "Graph"]
    trace, buys, sells = graphs[0].figure["data"]
    assert trace["y"] == [9998.0, 10096.9, 10041.9]
    hours = [int(datetime(2026, 11, 2, h, tzinfo=UTC).timestamp() * 1000) for h in (15, 16, 17)]
    assert trace["x"] == hours  # epoch ms on a date axis
    assert graphs[0].figure["layout"]["xaxis"]["type"] == "date"
    # A marker on the line at each trade: the buy at 15:00, the sell at 16:00.
    assert (buys["x"], buys["y"], buys["marker"]["symbol"]) == ([hours[0]], [9998.0], "triangle-up")
    assert (sells["x"], sells["y"], sells["marker"]["symbol"]) == ([hours[1]], [10096.9], "triangle-down")
    assert sells["text"] == ["sold 5 AAPL at $109.78"]


def test_the_time_range_narrows_the_charts_to_the_newest_valuations():
    history = ValueHistory(np.array([0.0, 86_400.0 * 20, 86_400.0 * 29.5, 86_400.0 * 30]), np.ones(4))
    end = float(history.times[-1])
    shown = {
        r: len(trader_screen.in_range(history, trader_screen.range_start(r, end)))
        for r in trader_screen.RANGES
    }
    assert shown == {"day": 2, "week": 2, "month": 4, "all": 4}


def test_an_unknown_range_from_the_browser_shows_everything(callbacks):
    everything = callbacks.refresh_portfolios(1, 0, body_ids())
    assert callbacks.refresh_portfolios(1, 0, body_ids(), "fortnight")[2] == everything[2]
    assert callbacks.refresh_portfolios(1, 0, body_ids(), ["day"])[2] == everything[2]


def test_leaderboard_ranks_traders_against_spy_buy_and_hold(callbacks):
    _, board, comparison, _, as_of = callbacks.refresh_portfolios(1, 0, body_ids())
    rows = [n for n in walk(board) if type(n).__name__ == "Tr"][1:]
    cells = [texts(row) for row in rows]
    assert cells[0][:4] == ["", "SPY buy & hold", "$10,076.00", "+0.76%"]
    assert cells[1][:4] == ["1", "Warren Patience", "$10,041.90", "+0.42%"]
    assert "100%" in cells[1] and "2" in cells[1]  # win rate (one sell above cost), trades
    assert "1,200" in cells[1] and "$0.0123" in cells[1]  # tokens and cost of the recorded turn
    assert {c[1] for c in cells[2:]} == {"George Bold", "Ray Systematic", "Cathie Crypto"}
    # Warren's Sharpe: the snapshots span two hours, so the ratio is per cycle, not annualised
    sharpe = metrics.sharpe_ratio(metrics.period_returns([10000, 9998, 10096.9, 10041.9]))
    assert f"{sharpe:.2f}" == cells[1][4]
    assert cells[1][6] == "4 points, per period (< 1 day)"  # what the ratios are over, not annualised
    assert cells[0][7] == cells[1][7] == "too short (1 of 30 daily returns)"  # one day: no interval
    drawdown = (1 - 10041.9 / 10096.9) * 100
    assert cells[1][8] == f"{drawdown:.2f}%"
    names = [t["name"] for t in comparison["data"]]
    assert names == ["Warren Patience", "George Bold", "Ray Systematic", "Cathie Crypto", "SPY buy & hold"]
    assert comparison["data"][-1]["y"] == [9981.0, 10171.0, 10076.0]
    assert as_of.startswith("as of ") and as_of.endswith(" UTC")


def test_cycles_link_to_their_prefect_flow_runs(callbacks):
    *_, cycles, _ = callbacks.refresh_portfolios(1, 0, body_ids())
    links = [(n.children, n.href) for n in walk(cycles) if type(n).__name__ == "A"]
    assert links == [
        ("3", f"{PREFECT_UI}/runs/flow-run/0b6f6c1e-3333-4a3b-9c1d-000000000003"),
        ("1", f"{PREFECT_UI}/runs/flow-run/0b6f6c1e-1111-4a3b-9c1d-000000000001"),
    ]
    numbers = [texts(row)[0] for row in walk(cycles) if type(row).__name__ == "Tr"][1:]
    assert numbers == ["3", "2", "1"]  # cycle 2 has no flow run: a plain number
    unlinked = DashboardCallbacks(callbacks.engine, callbacks.source, prefect_ui=None)
    *_, cycles, _ = unlinked.refresh_portfolios(1, 0, body_ids())
    assert not [n for n in walk(cycles) if type(n).__name__ == "A"]
    assert [texts(row)[0] for row in walk(cycles) if type(row).__name__ == "Tr"][1:] == ["3", "2", "1"]


def later():
    return time.time() + 60  # a clock past the moment effects wait for their step


def test_page_has_a_column_per_trader_with_its_newest_log_lines_first(reader):
    layout = page(reader, log_poll_ms=500, refresh_seconds=120, prefect_ui=None, clock=later)
    nodes = list(walk(layout))
    columns = with_class(nodes, "trader")
    assert [c.id["trader"] for c in columns] == TRADERS
    assert texts(columns[0])[:2] == ["Warren Patience", "offline"]  # persona and model
    warren_log = [
        n for n in walk(columns[0]) if getattr(n, "id", None) == {"type": "log", "trader": "Warren"}
    ][0]
    messages = [line.children[1] for line in warren_log.children]  # after the time
    assert messages[0].startswith("Sold 5 AAPL") and messages[-1] == "turn started"
    kinds = [line.className.split("-")[-1] for line in warren_log.children]
    assert kinds == ["account", "response", "account", "generation", "trace"]
    (store,) = [n for n in nodes if getattr(n, "id", None) == "log-cursor"]
    assert store.data["last"] == 7 and store.data["counts"] == {
        "Warren": 5,
        "George": 2,
        "Ray": 0,
        "Cathie": 0,
    }


def test_idle_log_poll_sends_nothing(callbacks, reader):
    cursor = page(reader, log_poll_ms=500, refresh_seconds=120, prefect_ui=None)
    store = [n for n in walk(cursor) if getattr(n, "id", None) == "log-cursor"][0].data
    with pytest.raises(PreventUpdate):
        callbacks.poll_logs(1, store, log_ids())


def test_log_poll_adds_only_new_lines_to_their_trader(reader, traded_floor):
    callbacks = DashboardCallbacks(reader, "simulated", clock=later)
    cursor = log_feed.new_cursor(7)
    write_log(traded_floor, "Ray", "function", "get_holdings()")
    write_log(traded_floor, "Ray", "account", "Bought 3 SPY")
    write_log(traded_floor, "Cathie", "agent", "momentum check")
    updates, moved = callbacks.poll_logs(1, cursor, log_ids())
    assert updates[0] is no_update and updates[1] is no_update
    ray = updates[2].to_plotly_json()["operations"]
    assert [op["operation"] for op in ray] == ["Prepend", "Prepend"]
    assert [op["params"]["value"].className for op in ray] == [
        "log-line log-function",
        "log-line log-account",
    ]
    assert updates[3].to_plotly_json()["operations"][0]["params"]["value"].className == "log-line log-agent"
    assert moved["last"] == 10 and moved["gaps"] == {}
    assert moved["counts"] == {"Ray": 2, "Cathie": 1}
    with pytest.raises(PreventUpdate):
        callbacks.poll_logs(2, moved, log_ids())


def test_log_poll_keeps_at_most_the_newest_lines_per_trader(callbacks, traded_floor):
    cursor = log_feed.new_cursor(7)
    cursor["counts"] = {"George": log_feed.MAX_LINES}
    write_log(traded_floor, "George", "trace", "one more")
    updates, moved = callbacks.poll_logs(1, cursor, log_ids())
    ops = updates[1].to_plotly_json()["operations"]
    assert [(o["operation"], o["location"]) for o in ops] == [
        ("Prepend", []),
        ("Delete", [log_feed.MAX_LINES]),
    ]
    assert moved["counts"]["George"] == log_feed.MAX_LINES


def test_cursor_asks_again_for_ids_skipped_by_a_late_commit():
    cursor = log_feed.new_cursor(10)
    moved = log_feed.advance(cursor, [12, 13], now=100.0)
    assert moved["last"] == 13 and log_feed.pending_gaps(moved) == [11]
    filled = log_feed.advance(moved, [11], now=101.0)
    assert filled["last"] == 13 and log_feed.pending_gaps(filled) == []
    expired = log_feed.advance(moved, [], now=100.0 + log_feed.GAP_TTL_SECONDS)
    assert log_feed.pending_gaps(expired) == []


def test_dashboard_engine_cannot_write(reader, traded_floor):
    with traded_floor.connect() as conn:
        before = conn.execute(text("SELECT count(*), sum(cash) FROM accounts")).one()
    for statement in (
        "UPDATE accounts SET cash = 0",
        "INSERT INTO activity_logs (account_id, type, message) SELECT id, 'trace', 'x' FROM accounts",
        "DELETE FROM transactions",
        "CREATE TABLE sneaky (id int)",
    ):
        with pytest.raises(DBAPIError, match="read-only transaction"):
            with reader.begin() as conn:
                conn.execute(text(statement))
    with traded_floor.connect() as conn:
        assert conn.execute(text("SELECT count(*), sum(cash) FROM accounts")).one() == before


def test_basic_auth_guards_every_route_when_configured(reader, database_url):
    settings = Settings(
        _env_file=None, database_url=database_url, dashboard_user="ops", dashboard_password="s3cret"
    )
    client = create_app(reader, SimulatedMarket.name, settings).server.test_client()
    assert client.get("/").status_code == 401
    assert client.get("/_dash-layout").status_code == 401
    assert (
        client.get("/", headers={"Authorization": "Basic b3BzOnMzY3JldA=="}).status_code == 200
    )  # ops:s3cret
    half = Settings(_env_file=None, database_url=database_url, dashboard_user="ops")
    with pytest.raises(ConfigurationError, match="DASHBOARD_PASSWORD"):
        create_app(reader, SimulatedMarket.name, half)


def test_open_app_serves_the_page_without_auth_and_not_in_debug_mode(reader, database_url):
    app = create_app(reader, SimulatedMarket.name, Settings(_env_file=None, database_url=database_url))
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout").get_json()
    assert "Warren Patience" in str(layout)
    assert not app.server.debug


def test_a_floor_with_no_cycles_yet_renders_empty_panels(floor):
    reader = read_only_engine(floor.url.render_as_string(hide_password=False))
    try:
        bodies, board, comparison, cycles, _ = DashboardCallbacks(
            reader, SimulatedMarket.name
        ).refresh_portfolios(None, 0, body_ids())
    finally:
        reader.dispose()
    for body in bodies:
        shown = [t for part in body for t in texts(part)]
        assert shown[:3] == ["$10,000.00", "+$0.00 (+0.00%)", "cash $10,000.00 · realised +$0.00"]
        assert {"no valuations yet", "all cash", "no trades yet"} <= set(shown)
    rows = [texts(n) for n in walk(board) if type(n).__name__ == "Tr"][1:]
    assert [r[1] for r in rows] == ["Warren Patience", "George Bold", "Ray Systematic", "Cathie Crypto"]
    assert all(r[4:6] == ["–", "–"] for r in rows)  # no Sharpe or Sortino without history
    assert comparison["data"] == []
    assert texts(cycles) == ["no cycles yet"]


def test_a_fill_waits_for_the_step_that_ordered_it(callbacks, traded_floor):
    from floor.runs.activity import write_logs

    cursor = log_feed.new_cursor(7)
    write_log(traded_floor, "Ray", "account", "Bought 3 SPY at $505.00 ($1,515.00); cash now $8,485.00")
    with pytest.raises(PreventUpdate):  # young, and no step claimed it yet: nothing to show
        callbacks.poll_logs(1, cursor, log_ids())
    write_logs(
        traded_floor,
        "Ray",
        [
            ("generation", "Step 1 [action]: (tool calls only)"),
            ("function", 'Step 1 [tool call] buy_shares({"symbol": "SPY", "quantity": 3, "rationale": "r"})'),
        ],
    )
    updates, moved = callbacks.poll_logs(2, cursor, log_ids())
    ops = updates[2].to_plotly_json()["operations"]
    shown = [op["params"]["value"] for op in ops]
    # Prepended in causal order: the order's line, then its fill on top.
    assert [line.children[1] if isinstance(line.children, list) else None for line in shown][-1].startswith(
        "Bought 3 SPY"
    )
    assert [line.className for line in shown] == ["log-line log-function", "log-line log-account"]
    assert moved["last"] == 10 and moved["counts"] == {"Ray": 2}


def test_a_poll_sent_before_the_page_saw_the_last_answer_adds_nothing_twice(reader, traded_floor):
    callbacks = DashboardCallbacks(reader, "simulated", clock=later)
    stale = log_feed.new_cursor(7, "page1")
    write_log(traded_floor, "Ray", "function", "get_holdings()")
    first, moved = callbacks.poll_logs(1, stale, log_ids())
    assert first[2] is not no_update and moved["last"] == 8
    again, _ = callbacks.poll_logs(2, stale, log_ids())  # two polls in flight with the same cursor
    assert again == [no_update] * 4
    other_page, _ = callbacks.poll_logs(3, log_feed.new_cursor(7, "page2"), log_ids())
    assert other_page[2] is not no_update  # another page gets it all the same
    assert log_feed.clamp_cursor({"last": 1, "page": "'; DROP TABLE x"}, 5, [], 1.0)["page"] == ""


def test_a_traders_halt_and_recent_fired_limits_show_on_its_screen(callbacks, traded_floor):
    with traded_floor.begin() as conn:
        conn.execute(
            text(
                "UPDATE accounts SET halted_at = '2026-11-02 16:30+00', "
                "halt_reason = 'value 16.7% below its peak' WHERE name = 'George'"
            )
        )
    for n in range(4):
        write_log(traded_floor, "George", "account", f"Risk limit max_order_pct: order {n} refused")
    bodies, *_ = callbacks.refresh_portfolios(1, 0, body_ids())
    george = [n for part in bodies[1] for n in walk(part)]
    (halt,) = with_class(george, "halt")
    assert halt.children.startswith("HALTED since 11-02 16:30 UTC — sells only (1 sessions since)")
    assert halt.children.endswith("value 16.7% below its peak")
    (fired,) = with_class(george, "fired")
    newest = fired.children[0].children  # newest first
    assert newest.endswith("max_order_pct: order 3 refused")
    assert len(fired.children) == 3
    warren = [n for part in bodies[0] for n in walk(part)]
    assert not with_class(warren, "halt") and not with_class(warren, "fired")
