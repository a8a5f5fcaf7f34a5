"""The process-wide wiring tasks share: settings, the database engine and the market.

Built on first use inside a flow run (never at import), once per process.
"""

from __future__ import annotations

import functools

from sqlalchemy import Engine

from floor.errors import TransientError
from floor.market import MarketData
from floor.settings import Settings


@functools.cache
def settings() -> Settings:
    return Settings()


@functools.cache
def engine() -> Engine:
    from floor.database import connect

    return connect(settings())


@functools.cache
def market() -> MarketData:
    from floor.market.factory import build_market

    return build_market(settings())


def database_url() -> str:
    return engine().url.render_as_string(hide_password=False)


def is_transient(task, task_run, state) -> bool:
    """Retry only failures that say a retry may help (network, provider, lock timeouts)."""
    try:
        state.result()
    except TransientError:
        return True
    except (ConnectionError, TimeoutError, OSError):
        return True
    except Exception:  # noqa: BLE001 - anything else is a bug or a rejection: retrying won't help
        return False
    return False
