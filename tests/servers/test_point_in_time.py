"""Point in time: with a past session's clock the market tools know nothing after its opening bell."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import anyio
import pytest
from mcp.shared.memory import create_connected_server_and_client_session

from floor.clock import SessionClock
from floor.market.cache import PriceBook
from floor.market.calendar import last_closed_session, session_open, sessions_between
from floor.market.simulated import SimulatedMarket
from servers.binding import TraderBinding
from servers.market_server import build_market_server

SESSION = date(2025, 3, 4)  # a Tuesday; the session before it is Monday 3 March
BEFORE = date(2025, 3, 3)
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?")


def ask(engine, calls: list[tuple[str, dict]], clock=None) -> list:
    binding = TraderBinding(
        trader="Warren", engine=engine, prices=PriceBook(engine, SimulatedMarket(), clock=clock)
    )

    async def scenario():
        async with create_connected_server_and_client_session(build_market_server(binding)) as session:
            return [await session.call_tool(name, arguments) for name, arguments in calls]

    return anyio.run(scenario)


def stamps(text: str) -> list[datetime]:
    """Every date or instant written in ``text``, as an aware instant (a bare day: its midnight, UTC).

    Not the exchange's published schedule (``next_open``, ``next_close``): when the NYSE opens next
    is known in advance, not market data.
    """
    found = []
    for match in STAMP.findall(re.sub(r'"next_(?:open|close)": "[^"]*"', "", text)):
        value = datetime.fromisoformat(match.replace("Z", "+00:00"))
        found.append(value if value.tzinfo else value.replace(tzinfo=UTC))
    return found


def test_a_session_clock_knows_the_close_before_its_session_and_nothing_after(floor):
    clock = SessionClock(SESSION)
    history, batch, quote, status = ask(
        floor,
        [
            ("get_price_history", {"symbol": "AAPL", "days": 5}),
            ("get_price_histories", {"symbols": ["AAPL", "GLD"], "days": 5}),
            ("lookup_share_price", {"symbol": "AAPL"}),
            ("is_market_open", {}),
        ],
        clock,
    )
    closes = json.loads(history.content[0].text)["closes"]
    assert closes[-1]["day"] == BEFORE.isoformat() and len(closes) == 5
    assert [h["closes"][-1]["day"] for h in json.loads(batch.content[0].text)["histories"]] == [
        BEFORE.isoformat()
    ] * 2
    priced = json.loads(quote.content[0].text)
    assert priced["price"] == closes[-1]["close"]  # at the opening bell: the last close
    assert json.loads(status.content[0].text)["open"] is True  # the session's calendar, not today's
    for answer in (history, batch, quote, status):
        assert answer.content and not answer.isError
        assert max(stamps(answer.content[0].text)) <= clock.now(), answer.content[0].text


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("get_price_history", {"symbol": "AAPL", "end": SESSION.isoformat()}),
        ("get_price_history", {"symbol": "AAPL", "end": "2026-12-01"}),
        ("get_price_histories", {"symbols": ["AAPL", "GLD"], "end": "2025-03-05"}),
    ],
)
def test_asking_for_a_close_after_the_clock_is_refused(floor, name, arguments):
    (answer,) = ask(floor, [(name, arguments)], SessionClock(SESSION))
    assert answer.isError
    assert (
        f"no close after {BEFORE.isoformat()} is known yet: it is 2025-03-04 14:30 UTC"
        in answer.content[0].text
    )


@pytest.mark.parametrize("end", ["20250303", "2025-3-3", "2025-W10-1", "2025-02-30", "yesterday"])
def test_an_end_that_is_not_a_day_is_refused(floor, end):
    (answer,) = ask(floor, [("get_price_history", {"symbol": "AAPL", "end": end})], SessionClock(SESSION))
    assert answer.isError and "end must be a day written YYYY-MM-DD" in answer.content[0].text


def test_an_earlier_end_is_answered_up_to_that_day(floor):
    (answer,) = ask(
        floor,
        [("get_price_history", {"symbol": "GLD", "days": 3, "end": "2025-02-27"})],
        SessionClock(SESSION),
    )
    assert [c["day"] for c in json.loads(answer.content[0].text)["closes"]] == [
        "2025-02-25",
        "2025-02-26",
        "2025-02-27",
    ]


def test_every_session_of_a_year_sees_only_its_past(floor):
    for day in sessions_between(date(2025, 1, 2), date(2025, 12, 31))[::25]:
        clock = SessionClock(day)
        (answer,) = ask(floor, [("get_price_histories", {"symbols": ["SPY", "FBTC"], "days": 30})], clock)
        newest = max(stamps(answer.content[0].text))
        assert newest.date() == last_closed_session(clock.now()) < day and newest <= session_open(day)


def test_the_live_clock_ends_history_with_the_last_closed_session(floor):
    (answer,) = ask(floor, [("get_price_history", {"symbol": "AAPL", "days": 3})])
    assert (
        json.loads(answer.content[0].text)["closes"][-1]["day"]
        == last_closed_session(datetime.now(UTC)).isoformat()
    )


def test_a_session_clock_is_only_for_sessions():
    with pytest.raises(ValueError, match="2025-03-08 is not an NYSE session"):
        SessionClock(date(2025, 3, 8))
