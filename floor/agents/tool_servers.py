"""How a turn reaches its tools: MCP sessions over streamable HTTP to the tool service.

A turn holds one bearer token (:mod:`floor.tool_access`) and opens one session per server kind
it needs, at ``<service>/mcp/<kind>/``; the service, not any argument, decides from the token
whose account and which turn the tools act for. The researcher's servers are opened the same
way, with the same token, on its first call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from floor.errors import FloorError


class ToolServiceUnavailable(FloorError):
    """The tool service could not be reached or stopped answering."""


@dataclass(frozen=True)
class ToolService:
    """Where the floor's tools are served, and how long a turn waits for one call."""

    url: str
    call_timeout_seconds: float = 60.0

    def endpoint(self, kind: str) -> str:
        return f"{self.url.rstrip('/')}/mcp/{kind}/"


@dataclass(frozen=True)
class ToolPass:
    """One turn's way in: the service and the turn's token."""

    service: ToolService
    token: str

    def parameters(self, kinds: Sequence[str]) -> list[dict]:
        """smolagents ``MCPClient`` server parameters for ``kinds``."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return [
            {
                "url": self.service.endpoint(kind),
                "transport": "streamable-http",
                "headers": headers,
                "timeout": self.service.call_timeout_seconds,
            }
            for kind in kinds
        ]


@contextmanager
def open_tools(access: ToolPass, kinds: Sequence[str]) -> Iterator[list]:
    """The tools of the ``kinds`` servers for ``access``'s turn; the sessions close with the block."""
    from smolagents import MCPClient

    try:
        client = MCPClient(
            access.parameters(kinds),
            # a timedelta: smolagents silently ignores an int here
            adapter_kwargs={
                "client_session_timeout_seconds": timedelta(seconds=access.service.call_timeout_seconds),
                "connect_timeout": 30,
            },
            structured_output=False,
        )
    except Exception as exc:  # noqa: BLE001 - mcpadapt raises bare exceptions from its connect thread
        raise ToolServiceUnavailable(
            f"the tool service at {access.service.url} did not answer: {_reason(exc)}"
        ) from exc
    try:
        yield list(client.get_tools())
    finally:
        client.disconnect()


def _reason(exc: BaseException) -> str:
    """The innermost message of a connection failure (mcpadapt wraps it in task groups)."""
    seen: BaseException | None = exc
    while seen is not None:
        inner = getattr(seen, "exceptions", None)
        if inner:
            seen = inner[0]
            continue
        if seen.__cause__ is None:
            break
        seen = seen.__cause__
    return f"{type(seen).__name__}: {seen}" if seen is not None else str(exc)
