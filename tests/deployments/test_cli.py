"""The ``floor`` command as a user meets it: help, bad arguments, reset's confirmation, logs."""

from __future__ import annotations

import argparse
import os
import pty
import re
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from deployments.cli import build_parser
from floor.ledger import trades as ledger
from floor.market import Quote
from floor.runs.activity import write_log
from floor.schema import transactions

FLOOR = [sys.executable, "-m", "deployments.cli"]


def floor_cli(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*FLOOR, *args], env=env or os.environ, capture_output=True, text=True, timeout=120, **kwargs
    )


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (choices,) = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return choices


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_and_option_has_help_and_an_example(name):
    command = subcommands()[name]
    assert command.description, f"floor {name} has no description"
    assert "Examples:\n  floor " + name in command.epilog, f"floor {name} has no example"
    for action in command._actions:
        assert action.help, f"floor {name} {action.option_strings or action.dest} has no help line"
    usage = command.format_help()
    assert "Examples:\n  floor " in usage  # the epilog keeps its line breaks


def test_top_level_help_lists_every_command_with_examples():
    done = floor_cli("--help")
    assert done.returncode == 0
    for name in subcommands():
        assert f"    {name}" in done.stdout
    assert "Examples:" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["logs", "Warren", "--last", "-1"], "floor: --last must be a positive whole number, got '-1'"),
        (["logs", "Warren", "--last", "ten"], "floor: --last must be a positive whole number, got 'ten'"),
        (["logs", "Warren", "--last", "0"], "floor: --last must be a positive whole number, got '0'"),
        (["dashboard", "--port", "99999"], "floor: --port must be a port number from 0 to 65535"),
        (["dashboard", "--port", "http"], "floor: --port must be a port number from 0 to 65535"),
        (["dashboard", "--host", " "], "floor: --host must not be blank"),
        (["run", "--trader", ""], "floor: --trader must not be blank"),
        (["mcp", "wallet", "--trader", "Warren"], "floor: kind: invalid choice: 'wallet'"),
        (["mcp", "accounts"], "floor: the following arguments are required: --trader"),
        (["logs"], "floor: the following arguments are required: NAME"),
        (["report", "--jsn"], "floor: unrecognized arguments: --jsn"),
        ([], "floor: the following arguments are required: COMMAND"),
    ],
)
def test_a_bad_argument_is_one_line(args, message):
    done = floor_cli(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(message), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def env(floor, database_url):
    return {**os.environ, "DATABASE_URL": database_url}


class FixedPrices:
    def knows(self, symbol: str) -> bool:
        return True

    def now(self) -> datetime:
        return datetime.now(UTC)

    def quote(self, symbol: str) -> Quote:
        return Quote(symbol, Decimal("100.00"), datetime.now(UTC), "fixed")


def trade_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(transactions)).scalar_one()


@pytest.fixture
def traded(floor):
    ledger.buy(floor, "Warren", "AAPL", 3, "a test buy", FixedPrices(), idempotency_key="cli-test")
    assert trade_count(floor) == 1
    return floor


def test_reset_without_a_terminal_or_yes_refuses_and_changes_nothing(traded, env):
    done = floor_cli("reset", env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr == (
        "floor: reset deletes every trader's positions and transactions; "
        "pass --yes to confirm (there is no terminal to ask on)\n"
    )
    assert trade_count(traded) == 1


def test_reset_with_yes_resets(traded, env):
    done = floor_cli("reset", "--yes", env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Reset 4 traders to $10,000.00 cash: Warren Patience, George Bold")
    assert trade_count(traded) == 0


def reset_on_a_terminal(env: dict, answer: bytes) -> tuple[int, str]:
    """`floor reset` with a pseudo-terminal as its stdin, answering its question with ``answer``."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*FLOOR, "reset"], env=env, stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    os.close(terminal)
    os.write(controller, answer)
    out, err = process.communicate(timeout=120)
    os.close(controller)
    return process.returncode, (out + err).decode()


def test_reset_on_a_terminal_asks_and_a_no_changes_nothing(traded, env):
    code, output = reset_on_a_terminal(env, b"n\n")
    assert code == 1
    assert (
        "Reset 4 traders (Warren Patience, George Bold, Ray Systematic, Cathie Crypto) to $10,000.00"
        in output
    )
    assert "[y/N]" in output and "Nothing changed." in output
    assert trade_count(traded) == 1


def test_reset_on_a_terminal_resets_after_a_yes(traded, env):
    code, output = reset_on_a_terminal(env, b"y\n")
    assert code == 0, output
    assert trade_count(traded) == 0


def test_logs_shortens_long_messages_unless_full(floor, env):
    write_log(floor, "Warren", "agent", "Step 1 [observation] " + "x" * 979)  # 1,000 characters
    write_log(floor, "Warren", "agent", "short and sweet")
    short = floor_cli("logs", "Warren", env=env)
    assert short.returncode == 0, short.stderr
    long_line, short_line = short.stdout.splitlines()
    assert long_line.endswith("x… (700 more characters; --full)")
    assert len(long_line) < 400
    assert short_line.endswith(" agent      short and sweet")
    assert " EST " in short_line or " EDT " in short_line  # New York time, zone shown

    full = floor_cli("logs", "Warren", "--full", env=env)
    assert full.stdout.splitlines()[0].endswith("x" * 979)


def test_logs_and_report_print_money_as_people_write_it(traded, env):
    logs = floor_cli("logs", "Warren", env=env)
    assert "Bought 3 AAPL at $100.20 ($300.60); cash now $9,699.40" in logs.stdout
    report = floor_cli("report", "Warren", env=env)
    assert report.returncode == 0, report.stderr
    assert "cash $9,699.40" in report.stdout and "@ $100.20" in report.stdout
    assert re.search(r"P&L (\+|\u2212)?\$[\d,]+\.\d\d ", report.stdout), report.stdout
    assert "$-" not in report.stdout
