"""How a turn reaches its tools: MCP sessions over streamable HTTP to the tool service.

A turn holds one bearer token (:mod:`floor.tool_access`) and opens one session per server kind
it needs, at ``<service>/mcp/<kind>/``; the service, not any argument, decides from the token
whose account and which turn the tools act for. The researcher's servers are opened the same
way, with the same token, on its first call.
"""

from __future__ import annotations

import concurrent.futures
import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

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
                "httpx_client_factory": _http_client,
            }
            for kind in kinds
        ]


@functools.cache
def _tls_context():
    """One TLS context for every session (httpx builds one per client otherwise: tens of ms each)."""
    import httpx

    return httpx.create_ssl_context()


def _http_client(headers=None, timeout=None, auth=None):
    """The MCP SDK's HTTP client, sharing one TLS context (same defaults: 30 s, 300 s to read)."""
    import httpx

    return httpx.AsyncClient(
        headers=headers,
        timeout=timeout or httpx.Timeout(30.0, read=300.0),
        auth=auth,
        verify=_tls_context(),
    )


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
        yield [_bounded(tool, client, access.service) for tool in client.get_tools()]
    finally:
        client.disconnect()


def _in_daemon_thread(fn: Any, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
    """Run ``fn`` on a daemon thread: a call stuck for good must not hold up the process's exit
    (an executor's worker threads are joined at exit)."""
    future: concurrent.futures.Future = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            future.set_exception(exc)

    threading.Thread(target=run, name="tool-call", daemon=True).start()
    return future


def _bounded(tool: Any, client: Any, service: ToolService) -> Any:
    """``tool`` with every call bounded in time, failing fast once the connection is gone.

    mcpadapt runs the sessions on an event loop of its own and waits for each call without a
    limit: if that loop stopped (the service went away mid-turn), a call would wait for ever.
    The session's own timeout covers a slow service; this covers a dead connection.
    """
    forward = tool.forward
    limit = service.call_timeout_seconds + 5

    def bounded_forward(*args: Any, **kwargs: Any) -> Any:
        if not _connected(client):
            raise ToolServiceUnavailable(f"the connection to the tool service at {service.url} was lost")
        pending = _in_daemon_thread(forward, *args, **kwargs)
        try:
            return pending.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            raise ToolServiceUnavailable(
                f"the tool service at {service.url} did not answer within {limit:.0f} s"
            ) from None
        except concurrent.futures.CancelledError:
            raise ToolServiceUnavailable(
                f"the connection to the tool service at {service.url} was lost mid-call"
            ) from None

    tool.forward = bounded_forward
    return tool


def _connected(client: Any) -> bool:
    loop = getattr(getattr(client, "_adapter", None), "loop", None)
    return loop is None or loop.is_running()


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
