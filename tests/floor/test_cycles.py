"""Cycle and turn records: a process killed with its work unfinished leaves it `crashed`, not
`running` for good, and the spend of a turn is on record call by call."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update

from floor.portfolio.views import recent_cycles
from floor.runs.activity import read_logs
from floor.runs.cycles import (
    GONE,
    TurnOutcome,
    add_turn_usage,
    end_flow_run,
    finish_cycle,
    finish_turn,
    mark_crashed,
    recent_turns,
    spent_since,
    start_cycle,
    start_of_day,
    start_turn,
)
from floor.schema import cycles, turns
from tests.crashes import kill_hard, spawn, statuses, wait_for

# A process that opens a cycle and a turn, says their ids, and then works "for ever".
STARTS_AND_WORKS = """
import os, time
from floor.runs.cycles import start_cycle, start_turn, add_turn_usage
from floor.database import create_floor_engine
from decimal import Decimal

engine = create_floor_engine(os.environ["DATABASE_URL"])
cycle = start_cycle(engine, forced=True, flow_run_id="killed-run")
turn = start_turn(engine, cycle, "Warren", "trade", "openai/gpt-4o-mini")
add_turn_usage(engine, turn, 900, 30, Decimal("0.000153"))
print(cycle, turn, flush=True)
time.sleep(600)
"""


def start_and_kill(database_url: str) -> tuple[int, int]:
    worker = spawn(["-c", STARTS_AND_WORKS], {"DATABASE_URL": database_url}, read_stdout=True)
    try:
        cycle_id, turn_id = map(int, worker.stdout.readline().split())
    finally:
        kill_hard(worker)
    return cycle_id, turn_id


def test_the_cycle_and_turn_of_a_killed_process_are_marked_crashed_and_nothing_else(floor, database_url):
    ours = start_cycle(floor, forced=True, flow_run_id="live-run")
    our_turn = start_turn(floor, ours, "George", "trade", "offline")
    done = start_cycle(floor, forced=True, flow_run_id="done-run")
    finish_cycle(floor, done, "completed")
    killed_cycle, killed_turn = start_and_kill(database_url)

    assert statuses(floor) == (
        {ours: "running", done: "completed", killed_cycle: "running"},
        {our_turn: "running", killed_turn: "running"},
    )
    # Postgres lets go of the killed process's lease as soon as it sees the connection close.
    crashed = wait_for(lambda: mark_crashed(floor).turns, "the killed turn marked crashed")
    assert crashed == [killed_turn]
    assert statuses(floor) == (
        {ours: "running", done: "completed", killed_cycle: "crashed"},
        {our_turn: "running", killed_turn: "crashed"},
    )
    assert mark_crashed(floor).cycles == []  # once is enough; live work is never touched
    with floor.connect() as conn:
        cycle = conn.execute(select(cycles).where(cycles.c.id == killed_cycle)).one()
        turn = conn.execute(select(turns).where(turns.c.id == killed_turn)).one()
    assert cycle.note == GONE and cycle.finished_at is not None
    assert turn.error == GONE and turn.cost == Decimal("0.000153")  # what it spent stays on record
    # `floor logs`, `floor report` and the dashboard's cycles table show it
    assert read_logs(floor, "Warren")[-1].message == f"Turn crashed: {GONE}"
    assert [t.status for t in recent_turns(floor, "Warren")] == ["crashed"]
    assert {c.id: c.status for c in recent_cycles(floor)}[killed_cycle] == "crashed"


def test_a_retried_run_reopens_its_cycle_and_the_killed_attempts_turn_is_crashed(floor, database_url):
    killed_cycle, killed_turn = start_and_kill(database_url)
    assert start_cycle(floor, forced=True, flow_run_id="killed-run") == killed_cycle  # the retry, here
    wait_for(lambda: mark_crashed(floor).turns, "the killed attempt's turn marked crashed")
    assert statuses(floor) == ({killed_cycle: "running"}, {killed_turn: "crashed"})


def test_rows_from_before_owners_were_recorded_count_as_crashed(floor):
    cycle_id = start_cycle(floor, forced=True, flow_run_id=None)
    turn_id = start_turn(floor, cycle_id, "Ray", "trade", "offline")
    with floor.begin() as conn:
        conn.execute(update(cycles).values(owner=None))
        conn.execute(update(turns).values(owner=None))
    ended = mark_crashed(floor)
    assert (ended.cycles, ended.turns) == ([cycle_id], [turn_id])


def test_the_orchestrators_hook_ends_only_its_own_runs_unfinished_work(floor):
    crashing = start_cycle(floor, forced=True, flow_run_id="crashing-run")
    unfinished = start_turn(floor, crashing, "Warren", "trade", "offline")
    finished = start_turn(floor, crashing, "George", "trade", "offline")
    finish_turn(floor, finished, TurnOutcome("succeeded"))
    other = start_cycle(floor, forced=True, flow_run_id="other-run")
    other_turn = start_turn(floor, other, "Ray", "trade", "offline")

    ended = end_flow_run(floor, "crashing-run", "crashed", "the flow run ended Crashed: SIGTERM")
    assert (ended.cycles, ended.turns) == ([crashing], [unfinished])
    assert statuses(floor) == (
        {crashing: "crashed", other: "running"},
        {unfinished: "crashed", finished: "succeeded", other_turn: "running"},
    )
    assert end_flow_run(floor, "crashing-run", "failed", "late").cycles == []  # a closed cycle stays


def test_spend_is_on_record_call_by_call_and_counts_for_the_day_whatever_the_turns_end(floor):
    cycle_id = start_cycle(floor, forced=True, flow_run_id=None)
    running = start_turn(floor, cycle_id, "Warren", "trade", "openai/gpt-4o-mini")
    add_turn_usage(floor, running, 900, 30, Decimal("0.000153"))
    add_turn_usage(floor, running, 1100, 40, Decimal("0.000189"))
    ended = start_turn(floor, cycle_id, "Warren", "trade", "openai/gpt-4o-mini")
    add_turn_usage(floor, ended, 100, 10, Decimal("0.000021"))
    finish_turn(floor, ended, TurnOutcome("failed", error="model call failed"))
    assert spent_since(floor, "Warren", start_of_day()) == Decimal("0.000363")
    [first, second] = recent_turns(floor, "Warren")
    assert (first.input_tokens, first.output_tokens, first.cost) == (2000, 70, Decimal("0.000342"))
    assert (second.status, second.cost) == ("failed", Decimal("0.000021"))  # finishing adds nothing
