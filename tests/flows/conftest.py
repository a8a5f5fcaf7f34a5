"""Fixtures for flow tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def runtime(prefect_api, floor):
    """The tasks' process-wide wiring, rebuilt from this test's environment."""
    from tasks import runtime as wiring

    for cached in (wiring.settings, wiring.engine, wiring.market):
        cached.cache_clear()
    yield wiring
    for cached in (wiring.settings, wiring.engine, wiring.market):
        cached.cache_clear()
