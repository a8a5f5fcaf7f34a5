"""Settings from the environment and traders from configuration."""

from __future__ import annotations

import pytest

from floor.errors import ConfigurationError
from floor.settings import Settings
from floor.traders import find_trader, load_traders


def test_blank_values_count_as_unset(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("DATA_DIR", "")
    monkeypatch.setenv("OPENAI_API_KEY", "  ")
    settings = Settings(_env_file=None)
    assert settings.database_url is None and settings.data_dir is None and settings.openai_api_key is None


def test_model_is_offline_unless_a_key_or_floor_model_says_otherwise():
    assert Settings(_env_file=None).default_model == "offline"
    assert Settings(_env_file=None, deepseek_api_key="k").default_model == "deepseek/deepseek-chat"
    assert Settings(_env_file=None, openai_api_key="k", floor_model="offline").default_model == "offline"


def test_env_file_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("RUN_EVERY_N_MINUTES=15\nRUN_EVEN_WHEN_MARKET_IS_CLOSED=true\n")
    settings = Settings()
    assert settings.run_every_n_minutes == 15 and settings.run_even_when_market_is_closed


def test_the_four_personas_by_default():
    traders = load_traders(Settings(_env_file=None))
    assert [t.display_name for t in traders] == [
        "Warren Patience",
        "George Bold",
        "Ray Systematic",
        "Cathie Crypto",
    ]
    assert {t.model for t in traders} == {"offline"}
    assert find_trader(traders, "  cathie ").name == "Cathie"


def test_traders_are_data(tmp_path):
    path = tmp_path / "traders.toml"
    path.write_text(
        '[[trader]]\nname = "Jesse"\nlastname = "Livermore"\nstyle = "bold"\nstrategy = "Tape reading."\n'
        'model = "openai/gpt-4.1-mini"\n'
        '[[trader]]\nname = "Ben"\nlastname = "Graham"\nstyle = "value"\nstrategy = "Margin of safety."\n'
    )
    traders = load_traders(Settings(_env_file=None, floor_traders_file=path))
    assert [(t.name, t.model) for t in traders] == [("Jesse", "openai/gpt-4.1-mini"), ("Ben", "offline")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[trader]]\nname = "X"\nlastname = "Y"\nstyle = "astrology"\nstrategy = "s"\n',
            "style must be one of",
        ),
        ('[[trader]]\nname = "X"\nlastname = "Y"\nstyle = "value"\n', "missing strategy"),
        (
            '[[trader]]\nname = "Bad Name!"\nlastname = "Y"\nstyle = "value"\nstrategy = "s"\n',
            "must be letters",
        ),
        ('[[trader]]\nname = "A"\nlastname = "Y"\nstyle = "value"\nstrategy = "s"\n' * 2, "configured twice"),
        ("", "no traders configured"),
        ("[[trader]\n", "not valid TOML"),
    ],
)
def test_bad_trader_files_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "traders.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_traders(Settings(_env_file=None, floor_traders_file=path))


def test_unknown_trader_lists_who_exists():
    with pytest.raises(ConfigurationError, match="the floor has Warren, George, Ray, Cathie"):
        find_trader(load_traders(Settings(_env_file=None)), "Nobody")
