"""The dashboard over HTTP, as someone who is not its user would try it: every route answers 401
before anything else happens, bodies are capped, and a crafted log poll costs what an ordinary one
does (figures printed)."""

from __future__ import annotations

import base64
import json
import tracemalloc

import pytest
from sqlalchemy import event, text

from dashboard import log_feed
from dashboard.access import basic_credentials
from dashboard.app import create_app
from floor.market.simulated import SimulatedMarket
from floor.settings import Settings

TRADERS = ["Warren", "George", "Ray", "Cathie"]
USER, PASSWORD = "ops", "s3cret-パス"
POLL = '..{"trader":["ALL"],"type":"log"}.children...log-cursor.data..'


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


GOOD = basic(f"{USER}:{PASSWORD}".encode())
MALFORMED = {
    "missing": None,
    "empty": "",
    "scheme only": "Basic",
    "scheme and blanks": "Basic    ",
    "other scheme": "Bearer " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    "bad base64": "Basic not*base64!",
    "base64 padding wrong": "Basic b3BzOnMzY3JldA",
    "no colon": basic(b"ops-s3cret"),
    "not UTF-8": basic(b"ops:\xff\xfe\xfd"),
    "empty user and password": basic(b":"),
    "wrong password": basic(f"{USER}:s3cret".encode()),
    "wrong user": basic(f"Ops:{PASSWORD}".encode()),
    "password prefix": basic(f"{USER}:{PASSWORD[:-1]}".encode()),
    "non-ASCII token": "Basic b3Bz\u00e9OnMz",
}


@pytest.fixture
def guarded(reader, database_url):
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        dashboard_user=USER,
        dashboard_password=PASSWORD,
    )
    return create_app(reader, SimulatedMarket.name, settings).server.test_client()


def requests_to_every_route():
    """(method, path, body, content type): pages, callbacks, assets, scripts, unknown routes."""
    return [
        ("GET", "/", None, None),
        ("GET", "/_dash-layout", None, None),
        ("GET", "/_dash-dependencies", None, None),
        ("GET", "/assets/dashboard.css", None, None),
        ("GET", "/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.12.1.min.js", None, None),
        ("GET", "/_favicon.ico", None, None),
        ("GET", "/no/such/route", None, None),
        ("POST", "/_dash-update-component", b"{not json", "application/json"),
        ("POST", "/_dash-update-component", b"x" * 200_000, "application/json"),
        ("POST", "/_dash-update-component", b"<xml/>", "application/xml"),
        ("POST", "/_dash-update-component", json.dumps({"output": POLL}).encode(), "application/json"),
        ("PUT", "/", b"", None),
    ]


def test_every_route_answers_401_to_anything_but_the_credentials(guarded):
    for why, header in MALFORMED.items():
        headers = {} if header is None else {"Authorization": header}
        for method, path, body, kind in requests_to_every_route():
            response = guarded.open(path, method=method, data=body, content_type=kind, headers=headers)
            assert response.status_code == 401, (why, method, path, response.status_code)
            assert response.headers["WWW-Authenticate"].startswith("Basic realm="), (why, path)
            assert b"Warren" not in response.data
    assert guarded.get("/", headers={"Authorization": GOOD}).status_code == 200
    assert guarded.get("/_dash-layout", headers={"Authorization": GOOD}).status_code == 200
    assert guarded.get("/assets/dashboard.css", headers={"Authorization": GOOD}).status_code == 200


def test_credentials_are_parsed_strictly():
    assert basic_credentials(GOOD) == (USER.encode(), PASSWORD.encode())
    assert basic_credentials("basic " + GOOD.split()[1]) == (USER.encode(), PASSWORD.encode())
    assert basic_credentials(basic(b"u:p:q")) == (b"u", b"p:q")  # only the first colon splits
    for why, header in MALFORMED.items():
        if why not in ("empty user and password", "wrong password", "wrong user", "password prefix"):
            assert basic_credentials(header) is None, why


def test_bodies_above_the_cap_get_413_once_authorised(guarded):
    big = json.dumps({"output": POLL, "padding": "x" * 70_000}).encode()  # the default cap is 64 KiB
    response = guarded.post(
        "/_dash-update-component", data=big, content_type="application/json", headers={"Authorization": GOOD}
    )
    assert response.status_code == 413
    unauthorised = guarded.post("/_dash-update-component", data=big, content_type="application/json")
    assert unauthorised.status_code == 401  # the credentials come first


def poll_request(cursor: dict, names: list[str]) -> dict:
    """The body the browser posts for the log poll, with these log columns on the page."""
    ids = [{"trader": name, "type": "log"} for name in names]
    return {
        "output": POLL,
        "outputs": [
            [{"id": i, "property": "children"} for i in ids],
            {"id": "log-cursor", "property": "data"},
        ],
        "inputs": [{"id": "log-poll", "property": "n_intervals", "value": 1}],
        "changedPropIds": ["log-poll.n_intervals"],
        "state": [
            {"id": "log-cursor", "property": "data", "value": cursor},
            [{"id": i, "property": "id", "value": i} for i in ids],
        ],
    }


class Meter:
    """Rows the dashboard's engine reads, bytes it returns and memory it peaks at, per request."""

    def __init__(self, engine) -> None:
        self.rows = 0
        event.listen(engine, "after_cursor_execute", self._count)

    def _count(self, _conn, cursor, *_args) -> None:
        self.rows += max(cursor.rowcount, 0)

    def cost(self, client, body: dict) -> dict:
        self.rows = 0
        raw = json.dumps(body).encode()
        tracemalloc.start()
        try:
            response = client.post(
                "/_dash-update-component",
                data=raw,
                content_type="application/json",
                headers={"Authorization": GOOD},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code in (200, 204), response.data[:500]
        return {"request": len(raw), "rows": self.rows, "bytes": len(response.data), "peak_mb": peak / 1e6}


def test_a_crafted_log_poll_costs_no_more_than_an_ordinary_one(reader, traded_floor, guarded):
    with traded_floor.begin() as conn:  # a busy floor: 2,000 more lines, the page behind by them all
        conn.execute(
            text(
                "INSERT INTO activity_logs (account_id, type, message) "
                "SELECT a.id, 'agent', 'thinking about ' || a.name || ' step ' || n "
                "FROM accounts a, generate_series(1, 500) n ORDER BY n, a.id"
            )
        )
    meter = Meter(reader)
    # Ordinary: the page from before the burst, open a while (every column full).
    ordinary = {"last": 7, "gaps": {}, "counts": dict.fromkeys(TRADERS, log_feed.MAX_LINES)}
    meter.cost(guarded, poll_request(ordinary, TRADERS))  # the engine's first connection reads its own
    figures = {"ordinary": meter.cost(guarded, poll_request(ordinary, TRADERS))}
    crafted = {
        "far back": ({"last": -2_000_000, "gaps": {}, "counts": {}}, TRADERS),
        "huge counts": ({"last": 7, "gaps": {}, "counts": dict.fromkeys(TRADERS, 100_000)}, TRADERS),
        "far ahead": ({"last": 10**30, "gaps": {"-5": 1e308, "x": "y"}, "counts": {"Warren": -9}}, TRADERS),
        "columns repeated": ({"last": -2_000_000, "gaps": {}, "counts": {}}, TRADERS * 50),
        "not a cursor": ("give me everything", TRADERS),
        "gaps galore": ({"last": 2007, "gaps": {str(i): 1.0 for i in range(1, 2000)}, "counts": {}}, TRADERS),
    }
    for name, (cursor, names) in crafted.items():
        figures[name] = meter.cost(guarded, poll_request(cursor, names))
    for name, figure in figures.items():
        print(f"log poll, {name}: {figure}")
    base = figures["ordinary"]
    for name in crafted:
        figure = figures[name]
        assert figure["rows"] <= base["rows"], name
        assert figure["bytes"] <= base["bytes"], name
        assert figure["peak_mb"] <= 1.5 * base["peak_mb"] + 1, name


REFRESH = (
    '..{"trader":["ALL"],"type":"trader-body"}.children...leaderboard.children...comparison.figure'
    "...cycles.children...as-of.children.."
)


def refresh_request(names: list[str]) -> dict:
    ids = [{"trader": name, "type": "trader-body"} for name in names]
    singles = ["leaderboard.children", "comparison.figure", "cycles.children", "as-of.children"]
    return {
        "output": REFRESH,
        "outputs": [
            [{"id": i, "property": "children"} for i in ids],
            *({"id": o.split(".")[0], "property": o.split(".")[1]} for o in singles),
        ],
        "inputs": [
            {"id": "portfolio-refresh", "property": "n_intervals", "value": 1},
            {"id": "refresh", "property": "n_clicks", "value": 0},
            {"id": "range", "property": "value", "value": "all"},
        ],
        "changedPropIds": ["portfolio-refresh.n_intervals"],
        "state": [[{"id": i, "property": "id", "value": i} for i in ids]],
    }


def test_a_refresh_asking_for_each_panel_many_times_renders_each_once(reader, guarded):
    meter = Meter(reader)
    meter.cost(guarded, refresh_request(TRADERS))
    ordinary = meter.cost(guarded, refresh_request(TRADERS))
    repeated = meter.cost(guarded, refresh_request(TRADERS * 50 + ["Nobody", "'; DROP TABLE accounts"]))
    print(f"refresh, ordinary: {ordinary}\nrefresh, every panel asked for 50 times: {repeated}")
    assert repeated["rows"] <= ordinary["rows"]
    assert repeated["bytes"] <= ordinary["bytes"] + 300  # the two unknown columns get empty bodies
    assert repeated["bytes"] >= ordinary["bytes"]  # and every trader's panel is still there
    assert repeated["peak_mb"] <= 1.5 * ordinary["peak_mb"] + 1


def test_a_jump_of_millions_of_ids_remembers_only_the_newest_gaps():
    moved = log_feed.advance(log_feed.new_cursor(0), [2_000_000], now=1.0)
    assert log_feed.pending_gaps(moved) == list(range(2_000_000 - log_feed.MAX_GAPS, 2_000_000))
    small = log_feed.advance(log_feed.new_cursor(10), [12, 15], now=1.0)
    assert log_feed.pending_gaps(small) == [11, 13, 14]  # a small jump keeps every gap, as before


def test_a_cursor_from_the_browser_is_clamped_to_what_exists():
    columns = ["Warren", "George"]
    clamp = log_feed.clamp_cursor
    assert clamp({"last": -2_000_000}, 50, columns, now=10.0)["last"] == 0
    assert clamp({"last": 10**30}, 50, columns, now=10.0)["last"] == 50
    for nonsense in (None, "x", [], {"last": "ten"}, {"last": True}, {"last": 1.5}):
        assert clamp(nonsense, 50, columns, now=10.0)["last"] == 50  # start from now: nothing old
    gaps = {"3": 9.0, "49": 1e308, "60": 1.0, "-1": 1.0, "x": 1.0, "4": "soon", "5": float("nan")}
    assert clamp({"last": 50, "gaps": gaps}, 50, columns, now=10.0)["gaps"] == {"49": 10.0, "3": 9.0}
    many = {str(i): 1.0 for i in range(1, 5000)}
    assert len(clamp({"last": 5000, "gaps": many}, 5000, columns, now=10.0)["gaps"]) <= log_feed.MAX_GAPS
    counts = {"Warren": 100_000, "George": -3, "Nobody": 5, "Ray": "7"}
    assert clamp({"last": 1, "counts": counts}, 50, columns, now=10.0)["counts"] == {
        "Warren": log_feed.MAX_LINES,
        "George": 0,
    }
