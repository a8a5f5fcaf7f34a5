"""Fixtures for the dashboard: a traded floor (see tests/valued_floor.py) and a read-only engine."""

from __future__ import annotations

import pytest

from dashboard.app import read_only_engine
from tests.valued_floor import trade_three_cycles


@pytest.fixture
def traded_floor(floor):
    return trade_three_cycles(floor)


@pytest.fixture
def reader(traded_floor):
    """The dashboard's own read-only engine on the same database."""
    engine = read_only_engine(traded_floor.url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()
