"""How a turn reaches its tools: MCP sessions, over streamable HTTP to the tool service or in memory.

A live turn holds one bearer token (:mod:`floor.tool_access`) and opens one session per server
kind it needs, at ``<service>/mcp/<kind>/``; the service, not any argument, decides from the token
whose account and which turn the tools act for. The researcher's servers are opened the same
way, with the same token, on its first call. A backtest's turns reach servers built for their book
in this process instead (``servers.in_process``), over in-memory streams: the same servers, the
same client code, no sockets. Either way a turn is admitted by a :class:`TurnTools` and gets a
:class:`ToolAccess`, which says how to connect to one kind's server.

Every session of the process lives on one event loop, on a thread of its own
(:func:`_client_loop`): a turn's sessions open side by side, each lists its tools once, and a
tool call is one hand-off from the agent's thread to that loop and back. The MCP SDK's
``ClientSession`` speaks the protocol; mcpadapt's smolagents adapter turns each listed tool into
a smolagents ``Tool``, as smolagents' own ``MCPClient`` does (which instead starts a loop thread
per turn, opens its sessions one after another, lists every server's tools twice, and waits for a
call without a limit).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from floor.errors import FloorError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from floor.settings import Settings

CONNECT_TIMEOUT_SECONDS = 30.0


class ToolServiceUnavailable(FloorError):
    """The tool service could not be reached or stopped answering."""


class ToolAccess(Protocol):
    """One admitted turn's way to its servers."""

    @property
    def service(self) -> ToolService:
        """Where the tools are served (named in errors) and how long a call may take."""
        ...

    def connect(self, kind: str) -> AbstractAsyncContextManager[tuple[Any, Any]]:
        """The MCP read and write streams of a new connection to the ``kind`` server."""
        ...

    def open_tools(self, kinds: Sequence[str]) -> AbstractContextManager[list]:
        """The smolagents tools of the ``kinds`` servers, usable until the block ends."""
        ...


class TurnTools(Protocol):
    """Serves the tools of turns: which kinds, and the access one turn gets for as long as it plays."""

    @property
    def kinds(self) -> frozenset[str]:
        """The server kinds it serves; a turn opens the ones its model needs among them."""
        ...

    def admit(
        self, engine: Engine, settings: Settings, request: Any, kinds: frozenset[str]
    ) -> AbstractContextManager[ToolAccess]:
        """Access for ``request``'s turn to the ``kinds`` servers, withdrawn when the block ends."""
        ...


@dataclass(frozen=True)
class ToolService:
    """Where the floor's tools are served, and how long a turn waits for one call."""

    url: str
    call_timeout_seconds: float = 60.0

    def endpoint(self, kind: str) -> str:
        return f"{self.url.rstrip('/')}/mcp/{kind}/"

    @property
    def kinds(self) -> frozenset[str]:
        from floor.tool_access import SERVER_KINDS

        return frozenset(SERVER_KINDS)

    @contextmanager
    def admit(
        self, engine: Engine, settings: Settings, request: Any, kinds: frozenset[str]
    ) -> Iterator[ToolPass]:
        """A bearer token for the turn, naming its trader, turn and cycle; revoked when it ends."""
        from floor import tool_access

        token = tool_access.issue_token(
            engine,
            request.profile.name,
            turn_key=request.turn_key,
            cycle_id=request.cycle_id,
            kinds=kinds,
            ttl=timedelta(seconds=settings.tool_token_ttl_seconds),
        )
        try:
            yield ToolPass(self, token)
        finally:
            tool_access.revoke_token(engine, token)


@dataclass(frozen=True)
class ToolPass:
    """One turn's way in to the tool service: the service and the turn's token."""

    service: ToolService
    token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def open_tools(self, kinds: Sequence[str]) -> AbstractContextManager[list]:
        """A session per kind for this turn (:func:`open_tools`)."""
        return open_tools(self, kinds)

    @asynccontextmanager
    async def connect(self, kind: str) -> AsyncIterator[tuple[Any, Any]]:
        """Streamable HTTP to ``<service>/mcp/<kind>/``, the token on every request."""
        from mcp.client.streamable_http import streamable_http_client

        client = httpx.AsyncClient(
            headers=self.headers(),
            timeout=httpx.Timeout(30.0, read=self.service.call_timeout_seconds),
            transport=_EventStreamRefusedHere(httpx.AsyncHTTPTransport(verify=_tls_context())),
        )
        async with client, streamable_http_client(self.service.endpoint(kind), http_client=client) as streams:
            read, write, _ = streams
            yield read, write


@functools.cache
def _tls_context():
    """One TLS context for every session (httpx builds one per client otherwise: tens of ms each)."""
    return httpx.create_ssl_context()


class _EventStreamRefusedHere(httpx.AsyncBaseTransport):
    """Answers the SDK's GET for a standing event stream with the 405 the service gives it.

    The service serves no such stream (``servers.service._NoEventStream``): its tools send a client
    nothing it did not ask for. Asked over the wire, the SDK's two tries per session would be two
    requests and two token checks for nothing.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(405, request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


_loops: dict[int, asyncio.AbstractEventLoop] = {}
_loops_lock = threading.Lock()


def _client_loop() -> asyncio.AbstractEventLoop:
    """The event loop every MCP session of this process runs on, started on first use.

    Keyed by process id: a forked child starts its own (its parent's thread is not in it).
    """
    with _loops_lock:
        loop = _loops.get(os.getpid())
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            running = threading.Event()
            loop.call_soon(running.set)
            threading.Thread(target=loop.run_forever, name="tool-client", daemon=True).start()
            running.wait()
            _loops[os.getpid()] = loop
        return loop


@dataclass
class _Session:
    """One open MCP session, held open by a task of its own on the client loop."""

    kind: str
    session: Any = None
    tools: list = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    failure: BaseException | None = None


async def _hold(kind: str, access: ToolAccess, ready: asyncio.Future) -> None:
    """Open a session to ``kind``'s server, list its tools, hand it over through ``ready``, keep it
    until closed.

    Its own task, because the SDK's transports must be entered and left in the same task.
    """
    from mcp import ClientSession

    held = _Session(kind)
    timeout = access.service.call_timeout_seconds
    try:
        async with access.connect(kind) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=timedelta(seconds=timeout)) as session:
                await session.initialize()
                held.session, held.tools = session, (await session.list_tools()).tools
                if ready.done():  # the turn stopped waiting (another kind failed, or it took too long)
                    return
                ready.set_result(held)
                await held.closed.wait()
    except Exception as exc:  # noqa: BLE001 - told to the turn, through ready or its next call
        held.failure = exc
        if not ready.done():
            ready.set_exception(exc)
    except BaseException:
        if not ready.done():
            ready.cancel()
        raise
    finally:
        held.ended.set()


async def _open(access: ToolAccess, kinds: Sequence[str]) -> list[_Session]:
    """Every kind's session, opened side by side; none stays open if one fails."""
    loop = asyncio.get_running_loop()
    readies = [loop.create_future() for _ in kinds]
    tasks = [loop.create_task(_hold(kind, access, ready)) for kind, ready in zip(kinds, readies, strict=True)]
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            return list(await asyncio.gather(*readies))
    except BaseException:
        for ready in readies:
            if ready.done() and not ready.cancelled() and ready.exception() is None:
                ready.result().closed.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _close(sessions: Sequence[_Session]) -> None:
    for held in sessions:
        held.closed.set()
    try:
        async with asyncio.timeout(10):
            await asyncio.gather(*(held.ended.wait() for held in sessions))
    except TimeoutError:
        pass  # a service that stopped answering: its daemon tasks go with the process


@contextmanager
def open_tools(access: ToolAccess, kinds: Sequence[str]) -> Iterator[list]:
    """The tools of the ``kinds`` servers for ``access``'s turn; the sessions close with the block."""
    sessions, tools = _connect(access, kinds)
    try:
        yield tools
    finally:
        _disconnect(sessions)


def _connect(access: ToolAccess, kinds: Sequence[str]) -> tuple[list[_Session], list]:
    """A session per kind, opened side by side, and their tools as smolagents tools."""
    loop = _client_loop()
    try:
        sessions = asyncio.run_coroutine_threadsafe(_open(access, list(kinds)), loop).result()
    except Exception as exc:  # noqa: BLE001 - any failure to connect says the same thing
        raise ToolServiceUnavailable(
            f"the tool service at {access.service.url} did not answer: {_reason(exc)}"
        ) from exc
    return sessions, [_tool(held, tool, access.service, loop) for held in sessions for tool in held.tools]


def _disconnect(sessions: Sequence[_Session]) -> None:
    asyncio.run_coroutine_threadsafe(_close(sessions), _client_loop()).result()


class KeptSessions:
    """Sessions to the ``kinds`` servers of ``access``, opened on first use and kept open: a book's
    turns, one after another, reuse them (and their listed tools) instead of connecting each turn.
    A session that ended is replaced on the next use."""

    def __init__(self, access: ToolAccess, kinds: Sequence[str]) -> None:
        self._access, self._kinds = access, list(kinds)
        self._sessions: list[_Session] = []
        self._tools: list = []

    def tools(self) -> list:
        if not self._sessions or any(held.ended.is_set() for held in self._sessions):
            self.close()
            self._sessions, self._tools = _connect(self._access, self._kinds)
        return self._tools

    def close(self) -> None:
        if self._sessions:
            _disconnect(self._sessions)
        self._sessions, self._tools = [], []


@functools.cache
def _adapter():
    from mcpadapt.smolagents_adapter import SmolAgentsAdapter

    return SmolAgentsAdapter(structured_output=False)


def _tool(held: _Session, tool: Any, service: ToolService, loop: asyncio.AbstractEventLoop) -> Any:
    """``tool`` of ``held``'s session as a smolagents tool, every call bounded in time.

    The session's own read timeout covers a slow service; the wait here covers a loop or a
    connection that will never answer, and a session already lost fails at once.
    """
    limit = service.call_timeout_seconds + 5

    def call(arguments: dict | None) -> Any:
        if held.ended.is_set():
            raise _lost(held, service, "")
        pending = asyncio.run_coroutine_threadsafe(_call(held, tool.name, arguments), loop)
        try:
            return pending.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            pending.cancel()
            raise ToolServiceUnavailable(
                f"the tool service at {service.url} did not answer within {limit:.0f} s"
            ) from None
        except _SessionLost:
            raise _lost(held, service, " mid-call") from held.failure
        except Exception as exc:
            if _timed_out(exc):  # the session's own read timeout
                raise ToolServiceUnavailable(
                    f"the tool service at {service.url} did not answer within "
                    f"{service.call_timeout_seconds:g} s"
                ) from exc
            lost = _lost_connection(exc)
            if lost is None:
                raise
            raise ToolServiceUnavailable(
                f"the connection to the tool service at {service.url} was lost mid-call ({lost})"
            ) from exc

    adapted = _adapter().adapt(call, tool)
    # smolagents requires every input not marked nullable, and mcpadapt marks none: an argument
    # with a default (``days``, ``end``) may be left out, and the server's default applies.
    required = set(tool.inputSchema.get("required", ()))
    for name, spec in adapted.inputs.items():
        if name not in required:
            spec["nullable"] = True
    return adapted


def _lost(held: _Session, service: ToolService, when: str) -> ToolServiceUnavailable:
    """The error of a call on a session that ended, with why it ended when that is known."""
    why = f" ({_reason(held.failure)})" if held.failure else ""
    return ToolServiceUnavailable(f"the connection to the tool service at {service.url} was lost{when}{why}")


class _SessionLost(Exception):
    """The session ended while a call was waiting for its answer."""


async def _call(held: _Session, name: str, arguments: dict | None) -> Any:
    """``name`` called on ``held``'s session, or :class:`_SessionLost` the moment the session ends.

    The SDK leaves a call whose connection failed waiting for its full read timeout.
    """
    call = asyncio.ensure_future(held.session.call_tool(name, arguments))
    ended = asyncio.ensure_future(held.ended.wait())
    try:
        await asyncio.wait({call, ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ended.cancel()
        if not call.done():
            call.cancel()
    if call.done() and not call.cancelled():
        return call.result()
    raise _SessionLost


def _timed_out(exc: BaseException) -> bool:
    from mcp.shared.exceptions import McpError

    return isinstance(exc, McpError) and exc.error.code == httpx.codes.REQUEST_TIMEOUT


def _lost_connection(exc: BaseException) -> str | None:
    """Why a call failed, when the cause is the connection rather than the tool; else None."""
    import anyio
    from mcp.shared.exceptions import McpError
    from mcp.types import CONNECTION_CLOSED

    if isinstance(exc, McpError):
        return exc.error.message if exc.error.code == CONNECTION_CLOSED else None
    if isinstance(exc, httpx.HTTPError | anyio.ClosedResourceError | anyio.BrokenResourceError):
        return _reason(exc)
    if isinstance(exc, concurrent.futures.CancelledError):
        return "the call was cancelled"
    return None


def _reason(exc: BaseException) -> str:
    """The innermost message of a connection failure (the SDK wraps it in task groups)."""
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
