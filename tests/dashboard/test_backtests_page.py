"""The backtests page's callback called directly, over the dashboard's read-only engine, on backtests
played by the real code (and their results given hand-picked statistics): the picker, the curves,
the table's cells with their intervals, "too short", the training-data mark, the matrix, older
results, running and missing backtests; and the page's routes over HTTP."""

from __future__ import annotations

import json

import pytest
from dash.exceptions import PreventUpdate

from dashboard.app import create_app, read_only_engine
from dashboard.backtest_table import signed_percent
from dashboard.backtests import BacktestsPage
from dashboard.layout import page
from floor.backtest.records import delete_backtest, find_backtest, set_status
from floor.market.simulated import SimulatedMarket
from floor.settings import Settings
from tests.dashboard.played_backtest import (
    BEATS,
    METHOD,
    STATISTICS,
    play_backtest,
    store_backtest,
    with_statistics,
    without_statistics,
)
from tests.dashboard.test_callbacks import texts, walk, with_class

BOOKS = ["Warren (seed 1)", "Warren (seed 2)", "Ray (seed 1)", "Ray (seed 2)"]
_played: dict[str, dict] = {}


@pytest.fixture
def reader(floor, database_url):
    """The dashboard's own read-only engine (the SELECT-only role) on the test database."""
    engine = read_only_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def backtests_page(reader):
    return BacktestsPage(reader)


@pytest.fixture
def played(floor, settings) -> dict:
    """The results of a real offline backtest of Warren and Ray, two seeds, 8 sessions: played by the
    first test that asks (then deleted with its books), stored again by each test that shows them."""
    if "results" not in _played:
        backtest_id = play_backtest(floor, settings, ["Warren", "Ray"], seeds=2, label="June")
        _played["results"] = find_backtest(floor, backtest_id).results
        delete_backtest(floor, backtest_id)
    return json.loads(json.dumps(_played["results"]))


def shown(backtests_page, path: str) -> list:
    children, _ = backtests_page.show(path)
    return [node for child in children for node in walk(child)]


def graph(nodes: list, graph_id: str):
    found = [n for n in nodes if getattr(n, "id", None) == graph_id]
    return found[0] if found else None


def rows(nodes: list) -> dict[str, list[list[str]]]:
    """Each row of the results table by its name: every cell's texts."""
    found = {}
    for node in nodes:
        name = node.to_plotly_json()["props"].get("data-row") if type(node).__name__ == "Tr" else None
        if name:
            found[name] = [texts(td) for td in node.children]
    return found


def row_node(nodes: list, name: str):
    return next(
        n for n in nodes if type(n).__name__ == "Tr" and n.to_plotly_json()["props"].get("data-row") == name
    )


def all_texts(nodes: list) -> str:
    return " ".join(t for n in nodes for t in ([n] if isinstance(n, str) else []))


def test_the_picker_lists_backtests_newest_first_and_opens_the_newest(
    backtests_page, floor, settings, played
):
    first = store_backtest(floor, settings, without_statistics(played), label="first")
    running = store_backtest(floor, settings, None, status="running", label="second")
    newest = store_backtest(floor, settings, with_statistics(played), label="third")
    for path in ("/backtests/", "/backtests", None, ["not", "a", "path"]):
        nodes = shown(backtests_page, path)
        links = [n for n in nodes if type(n).__name__ == "Link"]
        assert [link.href for link in links] == [f"/backtests/{i}" for i in (newest, running, first)]
        assert texts(links[0]) == [
            f"#{newest}",
            "third",
            "completed",
            "2025-06-02 to 2025-06-11 · Warren, Ray × 2 seeds",
        ]
        assert texts(links[1])[1:3] == ["second", "running"]
        assert [link.className for link in links] == ["pick selected", "pick", "pick"]
        (heading,) = [n for n in nodes if type(n).__name__ == "H2" and str(n.children).startswith("Backtest")]
        assert heading.children == f"Backtest {newest}: third"
    # Another one, picked by its link.
    nodes = shown(backtests_page, f"/backtests/{first}")
    assert [link.className for link in nodes if type(link).__name__ == "Link"] == [
        "pick",
        "pick",
        "pick selected",
    ]
    facts = with_class(nodes, "backtest-facts")[0]
    assert texts(facts)[1].startswith("2025-06-02 to 2025-06-11 · 8 sessions · 2 traders × 2 seeds")


def test_a_played_backtest_shows_every_book_beside_the_benchmarks(backtests_page, floor, settings):
    backtest_id = play_backtest(floor, settings, ["Warren", "Ray"], seeds=2, label="June")
    results = find_backtest(floor, backtest_id).results
    nodes = shown(backtests_page, f"/backtests/{backtest_id}")

    figure = graph(nodes, "backtest-equity").figure
    curves = {trace["name"]: trace for trace in figure["data"]}
    drawn = [
        name for name in ("SPY buy and hold", "equal weight") if results["benchmarks"][name].get("equity")
    ]
    assert list(curves) == BOOKS + drawn  # one line per book, then the benchmarks, SPY first
    for trader, name in zip(results["traders"], BOOKS, strict=True):
        assert curves[name]["x"] == [day for day, _ in trader["equity"]]
        assert curves[name]["y"] == [round(v, 2) for _, v in trader["equity"]]
        assert "dash" not in curves[name]["line"]
    assert curves["Warren (seed 1)"]["line"]["color"] == curves["Warren (seed 2)"]["line"]["color"]
    assert curves["Warren (seed 1)"]["line"]["color"] != curves["Ray (seed 1)"]["line"]["color"]
    for name in drawn:
        assert curves[name]["line"]["dash"] in ("dash", "dot") and curves[name]["line"]["color"] in (
            "#9aa4ad",
            "#6e7681",
        )
        assert curves[name]["y"] == [round(v, 2) for _, v in results["benchmarks"][name]["equity"]]

    table = rows(nodes)
    assert list(table) == [*BOOKS, "SPY buy and hold", "equal weight"]
    for trader, name in zip(results["traders"], BOOKS, strict=True):
        cells = table[name]
        assert cells[0][:2] == [name, "offline"]
        assert cells[1][0] == signed_percent(trader["return"])
        assert cells[2] == ["$0.0000"]  # model cost, beside the return
        assert cells[7] == [f"{trader['max_drawdown'] * 100:.2f}%"]
        assert cells[8] == [str(trader["trades"])]
    spy = results["benchmarks"]["SPY buy and hold"]
    assert table["SPY buy and hold"][1] == [signed_percent(spy["return"])]
    assert table["SPY buy and hold"][2] == [""] and table["SPY buy and hold"][8] == [""]
    assert "benchmark" in row_node(nodes, "equal weight").className


def test_every_figure_has_its_95_percent_interval_below_it(backtests_page, floor, settings, played):
    results = with_statistics(played)
    nodes = shown(backtests_page, f"/backtests/{store_backtest(floor, settings, results)}")
    table = rows(nodes)
    warren = table["Warren (seed 1)"]
    assert warren[1:7] == [
        ["+8.10%", "−5.0% to +21.0%"],  # return
        ["$0.0000"],  # model cost
        ["1.10", "−0.60 to 2.90"],  # Sharpe
        ["+2.00%", "−3.0% to +7.0%"],  # excess over SPY
        ["83%"],  # PSR
        ["41%"],  # DSR
    ]
    # Without bounds only the value; no excess return, no DSR: a dash.
    assert table["Ray (seed 1)"][1:7] == [["−3.40%"], ["$0.0000"], ["−0.52"], ["—"], ["20%"], ["—"]]
    figures = {
        name: [n for n in walk(row_node(nodes, name)) if "figure" in (getattr(n, "className", "") or "")]
        for name in ("Warren (seed 1)", "Ray (seed 1)")
    }
    assert (
        "gain" in figures["Warren (seed 1)"][0].className and "loss" in figures["Ray (seed 1)"][0].className
    )
    notes = [texts(n) for n in with_class(nodes, "note")]
    assert [METHOD] in notes
    assert not [n for n in notes if "not computed" in " ".join(n)]


def test_a_row_too_short_for_statistics_says_so_with_the_reason(backtests_page, floor, settings, played):
    results = with_statistics(played)
    nodes = shown(backtests_page, f"/backtests/{store_backtest(floor, settings, results)}")
    cells = rows(nodes)["Warren (seed 2)"]
    assert cells[1] == [signed_percent(results["traders"][1]["return"]), "too short"]
    assert cells[3:7] == [["too short"]] * 4
    marks = with_class(list(walk(row_node(nodes, "Warren (seed 2)"))), "too-short")
    assert len(marks) == 5 and {m.title for m in marks} == {STATISTICS[1]["too_short"]}


def test_the_real_statistics_of_a_short_backtest_are_too_short(backtests_page, floor, settings, played):
    """The results as results.py stores them for 8 sessions: when it computes statistics, every
    row is too short for them and no pair can be compared."""
    if "statistics" not in played["traders"][0]:
        pytest.skip("these results carry no statistics")
    nodes = shown(backtests_page, f"/backtests/{store_backtest(floor, settings, played)}")
    for trader, name in zip(played["traders"], BOOKS, strict=True):
        reason = trader["statistics"]["too_short"]
        assert reason and rows(nodes)[name][3] == ["too short"]
        assert {m.title for m in with_class(list(walk(row_node(nodes, name))), "too-short")} == {reason}
    assert graph(nodes, "backtest-pairwise") is None
    assert ["Too short to compare: every pair's chance is unknown."] in [
        texts(n) for n in with_class(nodes, "empty")
    ]


def test_a_model_trained_past_the_start_is_marked_and_an_unknown_cutoff_too(
    backtests_page, floor, settings, played
):
    results = with_statistics(played)
    nodes = shown(backtests_page, f"/backtests/{store_backtest(floor, settings, results)}")
    table = rows(nodes)
    assert table["Warren (seed 1)"][0] == [
        "Warren (seed 1)",
        "openai/gpt-4.1-mini",
        "inside the model's training data",
    ]
    assert table["Warren (seed 2)"][0] == ["Warren (seed 2)", "deepseek/deepseek-chat", "cutoff unknown"]
    assert table["Ray (seed 1)"][0] == ["Ray (seed 1)", "offline"]  # outside: no mark
    inside = row_node(nodes, "Warren (seed 1)")
    assert "inside-training" in inside.className
    (badge,) = with_class(list(walk(inside)), "inside")
    assert "2025-06-30" in badge.title and "2025-06-02" in badge.title
    training = ["".join(texts(n)) for n in with_class(nodes, "training")]
    assert training == [
        "inside the model's training data openai/gpt-4.1-mini's training data runs to 2025-06-30, "
        "after this backtest's start (2025-06-02): it may know what happened next, so read its rows as "
        "hindsight.",
        "cutoff unknown deepseek/deepseek-chat's training cutoff is not known: whether it saw this "
        "span cannot be told.",
    ]


def test_who_beats_whom_is_a_heatmap_of_the_pairwise_chances(backtests_page, floor, settings, played):
    results = with_statistics(played)
    nodes = shown(backtests_page, f"/backtests/{store_backtest(floor, settings, results)}")
    (heatmap,) = graph(nodes, "backtest-pairwise").figure["data"]
    assert heatmap["type"] == "heatmap" and heatmap["x"] == heatmap["y"] == BOOKS
    assert heatmap["z"] == results["pairwise"]["beats"]
    assert heatmap["z"][0][1:] == BEATS and heatmap["z"][1][0] == pytest.approx(1 - BEATS[0])
    assert heatmap["text"] == [
        ["", "62%", "91%", "55%"],
        ["38%", "", "50%", "50%"],
        ["9%", "50%", "", "50%"],
        ["45%", "50%", "50%", ""],
    ]
    assert (heatmap["zmin"], heatmap["zmid"], heatmap["zmax"]) == (0.0, 0.5, 1.0)  # diverging around 50%
    assert heatmap["texttemplate"] == "%{text}"
    layout = graph(nodes, "backtest-pairwise").figure["layout"]
    assert layout["yaxis"]["autorange"] == "reversed"  # the first row on top, as in the table


def test_one_seed_names_rows_by_trader(backtests_page, floor, settings, played):
    results = with_statistics(played)
    results["seeds"] = 1
    results["traders"] = [t for t in results["traders"] if t["seed"] == 1]
    results["pairwise"] = {"labels": ["Warren", "Ray"], "beats": [[None, 0.7], [0.3, None]]}
    nodes = shown(backtests_page, f"/backtests/{store_backtest(floor, settings, results)}")
    assert list(rows(nodes))[:2] == ["Warren", "Ray"]
    names = [t["name"] for t in graph(nodes, "backtest-equity").figure["data"]]
    assert names == ["Warren", "Ray", "SPY buy and hold", "equal weight"]
    assert graph(nodes, "backtest-pairwise").figure["data"][0]["text"] == [["", "70%"], ["30%", ""]]


def test_results_stored_before_the_statistics_still_render(backtests_page, floor, settings, played):
    old = without_statistics(played)
    nodes = shown(backtests_page, f"/backtests/{store_backtest(floor, settings, old)}")
    table = rows(nodes)
    for trader, name in zip(old["traders"], BOOKS, strict=True):
        cells = table[name]
        assert cells[1] == [signed_percent(trader["return"])]
        assert cells[3] == [f"{trader['sharpe']:.2f}".replace("-", "−")]
        assert cells[4:7] == [["—"], ["—"], ["—"]]  # excess over SPY, PSR, DSR
        assert cells[0] == [name, "offline"]
    notes = [" ".join(texts(n)) for n in with_class(nodes, "note")]
    assert any("not computed for this backtest" in n for n in notes)
    assert "Not stored with this backtest: the curve of SPY buy and hold, equal weight." in notes
    assert [t["name"] for t in graph(nodes, "backtest-equity").figure["data"]] == BOOKS
    assert graph(nodes, "backtest-pairwise") is None
    assert ["Not computed for this backtest."] in [texts(n) for n in with_class(nodes, "empty")]


def test_a_running_backtest_or_one_without_results_says_so(backtests_page, floor, settings, played):
    running = store_backtest(floor, settings, None, status="running")
    nodes = shown(backtests_page, f"/backtests/{running}")
    assert [texts(n) for n in with_class(nodes, "banner")] == [
        ["Running: no results yet. They are stored when it ends, and this page shows them then."]
    ]
    assert graph(nodes, "backtest-equity") is None and not rows(nodes)

    resumed = store_backtest(floor, settings, with_statistics(played), status="running")
    nodes = shown(backtests_page, f"/backtests/{resumed}")
    assert texts(with_class(nodes, "banner")[0])[0].startswith(
        "Running again: the figures below are where it stopped"
    )
    assert graph(nodes, "backtest-equity") is not None and rows(nodes)

    failed = store_backtest(floor, settings, None, status="failed")
    set_status(floor, failed, "failed", note="failed books: Warren")
    nodes = shown(backtests_page, f"/backtests/{failed}")
    assert [texts(n) for n in with_class(nodes, "banner")] == [
        ["No results yet: no session has been played."]
    ]
    assert ["failed books: Warren"] in [texts(n) for n in with_class(nodes, "note")]


def test_a_missing_backtest_says_so(backtests_page, floor, settings, played):
    assert [texts(n) for n in with_class(shown(backtests_page, "/backtests/"), "empty")] == [
        ["No backtests yet: run `floor backtest --start … --end …`."]
    ]
    store_backtest(floor, settings, played)
    for path, said in [
        ("/backtests/99", "no backtest 99"),
        ("/backtests/abc", "no backtest abc"),
        ("/backtests/-1", "no backtest -1"),
        ("/backtests/١", "no backtest ١"),  # a digit, but not one an id is written in
        ("/backtests/99999999999", "no backtest 99999999999"),
        ("/backtests/" + "x" * 5000, "no backtest " + "x" * 40),
    ]:
        nodes = shown(backtests_page, path)
        assert [texts(n) for n in with_class(nodes, "missing")] == [[said]], path
        assert len([n for n in nodes if type(n).__name__ == "Link"]) == 1  # the picker stays
        assert not [n for n in nodes if type(n).__name__ == "Link" and "selected" in n.className]


def test_a_refresh_redraws_only_when_a_status_changed(backtests_page, floor, settings, played):
    running = store_backtest(floor, settings, None, status="running")
    path = f"/backtests/{running}"
    _, mark = backtests_page.show(path)
    with pytest.raises(PreventUpdate):
        backtests_page.show(path, unless=mark)
    set_status(floor, running, "completed", results=with_statistics(played))
    children, moved = backtests_page.show(path, unless=mark)
    assert moved != mark and rows([n for c in children for n in walk(c)])
    with pytest.raises(PreventUpdate):
        backtests_page.show(path, unless=moved)
    store_backtest(floor, settings, played)  # a new backtest joins the picker
    assert backtests_page.show(path, unless=moved)[1] != moved


@pytest.fixture
def client(reader, database_url):
    settings = Settings(_env_file=None, database_url=database_url)
    return create_app(reader, SimulatedMarket.name, settings).server.test_client()


def callback_request(pathname: str) -> dict:
    """The body the browser posts when the page's location is ``pathname``."""
    return {
        "output": "..backtest-view.children...backtest-shown.data..",
        "outputs": [
            {"id": "backtest-view", "property": "children"},
            {"id": "backtest-shown", "property": "data"},
        ],
        "inputs": [
            {"id": "url", "property": "pathname", "value": pathname},
            {"id": "backtest-refresh", "property": "n_intervals", "value": None},
        ],
        "changedPropIds": ["url.pathname"],
        "state": [{"id": "backtest-shown", "property": "data", "value": None}],
    }


def test_the_page_is_served_at_backtests_beside_the_floor(client, reader, floor, settings, played):
    backtest_id = store_backtest(floor, settings, with_statistics(played), label="June")
    assert client.get("/backtests").status_code == 308
    assert client.get("/backtests").headers["Location"].endswith("/backtests/")
    for path in ("/backtests/", f"/backtests/{backtest_id}", "/backtests/404"):
        response = client.get(path)
        assert (
            response.status_code == 200
            and b"<title>Backtests \xc2\xb7 Trading Floor</title>" in response.data
        )
    assert b"backtest-view" in client.get("/backtests/_dash-layout").data
    assert client.get("/backtests/assets/backtests.css").status_code == 200
    response = client.post(
        "/backtests/_dash-update-component", json=callback_request(f"/backtests/{backtest_id}")
    )
    assert response.status_code == 200
    body = json.loads(response.data)  # Dash escapes "/" in its JSON: compare decoded
    assert f"Backtest {backtest_id}: June" in json.dumps(body, ensure_ascii=False)
    missing = client.post("/backtests/_dash-update-component", json=callback_request("/backtests/404"))
    assert "no backtest 404" in missing.get_data(as_text=True)
    # The floor's page is where it was, with a link here in its top bar.
    assert b"leaderboard" in client.get("/_dash-layout").data
    floor_page = page(reader, log_poll_ms=500, refresh_seconds=120, prefect_ui=None)
    links = [(n.children, n.href, n.className) for n in walk(floor_page) if type(n).__name__ == "A"]
    assert links[:2] == [("Floor", "/", "active"), ("Backtests", "/backtests/", None)]


def test_every_backtests_route_is_behind_basic_auth(reader, database_url, floor, settings, played):
    from tests.dashboard.test_safe_to_expose import GOOD, MALFORMED, PASSWORD, USER

    store_backtest(floor, settings, with_statistics(played))
    guarded = create_app(
        reader,
        SimulatedMarket.name,
        Settings(_env_file=None, database_url=database_url, dashboard_user=USER, dashboard_password=PASSWORD),
    ).server.test_client()
    routes = [
        ("GET", "/backtests", None),
        ("GET", "/backtests/", None),
        ("GET", "/backtests/1", None),
        ("GET", "/backtests/_dash-layout", None),
        ("GET", "/backtests/_dash-dependencies", None),
        ("GET", "/backtests/assets/backtests.css", None),
        ("POST", "/backtests/_dash-update-component", json.dumps(callback_request("/backtests/1")).encode()),
    ]
    for why, header in MALFORMED.items():
        headers = {} if header is None else {"Authorization": header}
        for method, path, body in routes:
            response = guarded.open(
                path, method=method, data=body, content_type="application/json", headers=headers
            )
            assert response.status_code == 401, (why, method, path)
            assert b"Warren" not in response.data
    authorised = guarded.post(
        "/backtests/_dash-update-component",
        data=json.dumps(callback_request("/backtests/1")).encode(),
        content_type="application/json",
        headers={"Authorization": GOOD},
    )
    assert authorised.status_code == 200 and "Warren (seed 1)" in authorised.get_data(as_text=True)


def test_a_replay_says_whose_recording_answered_it_and_that_nothing_was_spent(
    backtests_page, floor, settings, played
):
    from sqlalchemy import update

    from floor.schema import backtests

    recorded = store_backtest(floor, settings, played, label="recorded")
    replay = store_backtest(floor, settings, played, label="its replay")
    with floor.begin() as conn:
        conn.execute(update(backtests).where(backtests.c.id == replay).values(replay_of=recorded))
    text = all_texts(shown(backtests_page, f"/backtests/{replay}"))
    assert f"replayed from backtest {recorded}: $0 spent" in text and "on models" not in text
    assert "on models" in all_texts(shown(backtests_page, f"/backtests/{recorded}"))
