"""Training-cutoff marks: a span that starts before a model's cutoff is inside its training data."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from floor.agents.training_cutoffs import PUBLISHED_CUTOFFS, training_cutoff, training_mark
from floor.settings import Settings


def test_a_span_before_the_cutoff_is_marked_and_one_after_is_not():
    settings = Settings(model_cutoffs={})
    before = training_mark("openai/gpt-4o-mini", date(2023, 3, 1), settings)
    assert (before.cutoff, before.inside) == (date(2023, 10, 1), True)
    after = training_mark("openai/gpt-4o-mini", date(2025, 1, 2), settings)
    assert after.inside is False
    assert training_mark("openai/gpt-4o-mini", date(2023, 10, 1), settings).inside is False  # starts on it
    assert after.to_json() == {"model": "openai/gpt-4o-mini", "cutoff": "2023-10-01", "inside": False}


def test_an_unknown_cutoff_is_shown_as_unknown_and_the_setting_wins():
    settings = Settings(
        model_cutoffs={"openai/house-model": date(2025, 6, 1), "openai/gpt-4.1-mini": date(2024, 9, 1)}
    )
    assert training_cutoff("deepseek/deepseek-chat", settings) is None
    unknown = training_mark("deepseek/deepseek-chat", date(2025, 1, 2), settings)
    assert (unknown.cutoff, unknown.inside) == (None, None)
    assert training_mark("openai/house-model", date(2025, 1, 2), settings).inside is True
    assert PUBLISHED_CUTOFFS["openai/gpt-4.1-mini"] == date(2024, 6, 1)
    assert training_cutoff("openai/gpt-4.1-mini", settings) == date(2024, 9, 1)


def test_the_offline_rules_were_never_trained():
    mark = training_mark("offline", date(2000, 1, 3), Settings(model_cutoffs={}))
    assert (mark.cutoff, mark.inside) == (None, False)


def test_the_setting_reads_json_from_the_environment_and_refuses_what_is_not_a_day(monkeypatch):
    monkeypatch.setenv("MODEL_CUTOFFS", '{"openai/house-model": "2025-06-01"}')
    assert Settings().model_cutoffs == {"openai/house-model": date(2025, 6, 1)}
    monkeypatch.setenv("MODEL_CUTOFFS", '{"openai/house-model": "June"}')
    with pytest.raises(ValidationError, match="model_cutoffs"):
        Settings()
