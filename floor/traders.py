"""Who trades on the floor: trader profiles loaded from configuration, never hard-coded."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from floor.errors import ConfigurationError
from floor.ledger.risk import parse_overrides
from floor.settings import Settings

STYLES = ("value", "bold", "risk_parity", "crypto_momentum")
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"


@dataclass(frozen=True)
class TraderProfile:
    """One trader as configured: identity, persona, offline style, model and starting strategy."""

    name: str
    lastname: str
    style: str
    strategy: str
    model: str
    # The trader's own risk limits over the floor-wide RISK_* settings: (limit, value) pairs,
    # value None to switch a floor-wide limit off. See floor.ledger.risk.policy_for.
    risk_overrides: tuple[tuple[str, object], ...] = ()

    @property
    def display_name(self) -> str:
        return f"{self.name} {self.lastname}"


def _read_toml(path: Path | None) -> dict:
    if path is None:
        text = resources.files("floor").joinpath("traders.toml").read_text(encoding="utf-8")
        return tomllib.loads(text)
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"FLOOR_TRADERS_FILE {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"FLOOR_TRADERS_FILE {path} is not valid TOML: {exc}") from exc


def load_traders(settings: Settings) -> list[TraderProfile]:
    """The configured traders, in file order, with each trader's model resolved."""
    import re

    entries = _read_toml(settings.floor_traders_file).get("trader", [])
    if not entries:
        raise ConfigurationError("no traders configured: add [[trader]] entries")
    traders: list[TraderProfile] = []
    seen: set[str] = set()
    for entry in entries:
        missing = [key for key in ("name", "lastname", "style", "strategy") if not entry.get(key)]
        if missing:
            raise ConfigurationError(f"trader {entry.get('name', '?')!r} is missing {', '.join(missing)}")
        name = str(entry["name"]).strip()
        if not re.match(NAME_PATTERN, name):
            raise ConfigurationError(f"trader name {name!r} must be letters, digits, '-' or '_'")
        if name.lower() in seen:
            raise ConfigurationError(f"trader {name!r} is configured twice")
        if entry["style"] not in STYLES:
            raise ConfigurationError(f"trader {name!r}: style must be one of {', '.join(STYLES)}")
        seen.add(name.lower())
        traders.append(
            TraderProfile(
                name=name,
                lastname=str(entry["lastname"]).strip(),
                style=entry["style"],
                strategy=" ".join(str(entry["strategy"]).split()),
                model=_model(entry, settings),
                risk_overrides=parse_overrides(entry["risk"], name) if "risk" in entry else (),
            )
        )
    return traders


def _model(entry: dict, settings: Settings) -> str:
    """The trader's own model, else its USE_MANY_MODELS provider, else FLOOR_MODEL / the default."""
    if entry.get("model"):
        return str(entry["model"]).strip()
    if settings.use_many_models and entry.get("many_models"):
        return str(entry["many_models"]).strip()
    return settings.default_model


def find_trader(traders: list[TraderProfile], name: str) -> TraderProfile:
    """The trader called ``name`` (case-insensitive), or a ConfigurationError listing who exists."""
    for trader in traders:
        if trader.name.lower() == name.strip().lower():
            return trader
    known = ", ".join(t.name for t in traders)
    raise ConfigurationError(f"no trader named {name!r}; the floor has {known}")
