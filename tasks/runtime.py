"""The process-wide wiring tasks share: settings, the database engine and the market.

Built on first use inside a flow run (never at import), once per process.
"""

from __future__ import annotations

import functools
import threading

from sqlalchemy import Engine

from floor.agents.tool_servers import ToolService
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


@functools.cache
def settle() -> None:
    """Import what every cycle uses, then keep the garbage collector off it for the process's life.

    A full collection walks every live object with the GIL held: in a process that has imported
    Prefect, Great Expectations, pandas and smolagents that took 0.37-0.40 s, about every other
    16-trader cycle. Frozen (``gc.freeze``), the objects alive now are never walked again. Once per
    process: whatever garbage is alive at this moment is kept, once, and nothing after it.
    """
    import gc

    import smolagents  # noqa: F401 - every turn needs it

    from floor.quality import expectation_types

    expectation_types()  # Great Expectations
    gc.freeze()


def database_url() -> str:
    return engine().url.render_as_string(hide_password=False)


def tool_service() -> ToolService:
    """The tool service a turn connects to: the one TOOLS_URL names if it answers, else our own.

    Asked once per turn, so a service that went away between turns is replaced, not waited for.
    """
    from servers.service import is_serving

    config = settings()
    if config.tools_url:
        if is_serving(config.tools_url):
            return ToolService(config.tools_url, config.tool_call_timeout_seconds)
        import logging

        logging.getLogger(__name__).warning(
            "the tool service at %s does not answer; serving the tools in this process", config.tools_url
        )
    return ToolService(_local_tool_service().url, config.tool_call_timeout_seconds)


_local_service = None
_local_service_lock = threading.Lock()


def _local_tool_service():
    """A tool service on a thread of this process, on a free loopback port, until the process ends.

    Started once, under a lock: a cycle's first turns ask for it at the same moment, each from a
    thread of its own, and ``functools.cache`` would let every one of them start a service.
    """
    global _local_service
    from servers.service import start_in_process

    with _local_service_lock:
        if _local_service is None:
            _local_service = start_in_process(settings(), database_url())
        return _local_service


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
