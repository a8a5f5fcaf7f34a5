"""The push, research and memory MCP servers of an LLM trader's turn, started on stdio.

The turn's own settings object decides what they can do: the settings they read (keys, base
URLs, fetch limits, notification targets) are passed to the child processes explicitly rather
than left to whatever environment or ``.env`` the child happens to see.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from floor.settings import Settings

MCP_SESSION_TIMEOUT_SECONDS = 60.0  # a float: smolagents silently ignores an int here
# The settings fields the push, research and memory servers read.
SERVER_SETTINGS = (
    "brave_api_key",
    "brave_base_url",
    "fetch_max_chars",
    "fetch_timeout_seconds",
    "fetch_allow_private_addresses",
    "pushover_user",
    "pushover_token",
    "apprise_urls",
    "floor_traders_file",
)


def server_environment(settings: Settings, database_url: str) -> dict[str, str]:
    """The child processes' environment: ours, the database, and the settings above (blank = unset)."""
    env = {**os.environ, "DATABASE_URL": database_url}
    for name in SERVER_SETTINGS:
        value = getattr(settings, name)
        env[name.upper()] = (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


def stdio_parameters(kinds: tuple[str, ...], trader: str, settings: Settings, database_url: str) -> list:
    """Launch parameters of ``python -m servers KIND --trader NAME`` for each kind."""
    from mcp import StdioServerParameters

    env = server_environment(settings, database_url)
    return [
        StdioServerParameters(
            command=sys.executable, args=["-m", "servers", kind, "--trader", trader], env=env
        )
        for kind in kinds
    ]


@contextmanager
def open_tools(kinds: tuple[str, ...], trader: str, settings: Settings, database_url: str) -> Iterator[list]:
    """The tools of the ``kinds`` servers, bound to ``trader``; the servers stop when the block ends."""
    from smolagents import MCPClient

    with MCPClient(
        stdio_parameters(kinds, trader, settings, database_url),
        adapter_kwargs={"client_session_timeout_seconds": MCP_SESSION_TIMEOUT_SECONDS},
        structured_output=False,
    ) as tools:
        yield list(tools)
