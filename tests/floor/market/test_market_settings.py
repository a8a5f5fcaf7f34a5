"""The market-data settings: which statuses count as open, and bounds on timeouts and retries."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from floor.settings import Settings


def test_open_statuses_are_normalised_and_blank_means_the_default(monkeypatch) -> None:
    monkeypatch.setenv("MARKET_OPEN_STATUSES", " Extended-Hours , open ")
    assert Settings(_env_file=None).market_open_statuses == "extended-hours,open"
    monkeypatch.setenv("MARKET_OPEN_STATUSES", "")
    assert Settings(_env_file=None).market_open_statuses == "open"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MARKET_OPEN_STATUSES", "weekend"),
        ("POLYGON_READ_TIMEOUT", "0"),
        ("POLYGON_RETRIES", "-1"),
        ("PRICE_JUMP_BOUND", "0"),
        ("POLYGON_PLAN", "gold"),
    ],
)
def test_bad_market_settings_are_refused_by_name(monkeypatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings(_env_file=None)
