"""Processes of the floor killed in the middle of their work, the way a machine kills them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, select

from floor.schema import cycles, turns

REPO = Path(__file__).parents[1]
T = TypeVar("T")


def spawn(
    args: list[str], env: dict[str, str] | None = None, *, read_stdout: bool = False
) -> subprocess.Popen:
    """``python args…`` from the repository root, with this process's environment (and ``env``).

    Its stderr goes to a temporary file and its stdout nowhere (``read_stdout``: to a pipe the
    caller reads): a pipe nobody reads fills up, and a chatty process then blocks on its next write.
    """
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    errors = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE if read_stdout else subprocess.DEVNULL,
        stderr=errors,
        text=True,
    )
    process.errors = errors  # type: ignore[attr-defined]
    return process


def error_output(process: subprocess.Popen) -> str:
    """The end of what a process spawned here wrote to stderr."""
    errors = process.errors  # type: ignore[attr-defined]
    errors.seek(0)
    return errors.read()[-3000:]


def wait_for(check: Callable[[], T], what: str, process: subprocess.Popen | None = None, timeout=120.0) -> T:
    """Poll ``check`` until it returns something truthy; fail saying ``what`` never happened."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process ended before {what}: {error_output(process)}")
        if time.monotonic() > deadline:
            said = f"; its stderr: {error_output(process)}" if process is not None else ""
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s{said}")
        time.sleep(0.1)


def kill_hard(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` (``kill -9`` by default) and wait for the process to be gone."""
    process.send_signal(sig)
    process.wait(timeout=60)


def statuses(engine: Engine) -> tuple[dict[int, str], dict[int, str]]:
    """Every cycle's and every turn's status, by id."""
    with engine.connect() as conn:
        return (
            dict(conn.execute(select(cycles.c.id, cycles.c.status)).all()),
            dict(conn.execute(select(turns.c.id, turns.c.status)).all()),
        )


def wait_until_owner_gone(engine: Engine, cycle_id: int) -> None:
    """Wait until Postgres has let go of the lease of the process that ran ``cycle_id``.

    It does once it sees the dead process's connection close: at once, give or take a moment.
    """
    from floor.runs.leases import owner_gone

    def gone() -> bool:
        with engine.begin() as conn:  # the lock tried here goes at commit
            return conn.execute(
                select(owner_gone(cycles.c.owner)).where(cycles.c.id == cycle_id)
            ).scalar_one()

    wait_for(gone, f"the lease of cycle {cycle_id}'s process let go", timeout=30)
