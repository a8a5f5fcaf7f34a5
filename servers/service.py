"""The tool service: every MCP server of the floor over streamable HTTP, from one long-lived process.

Each server kind is mounted at ``/mcp/<kind>/`` on one ASGI app. A turn connects with its own
bearer token (:mod:`floor.tool_access`), which decides the trader, the turn and the cycle every
tool acts for; without a live token granted that kind, a request gets 401 and nothing runs.
Host and Origin headers are checked (DNS rebinding), request bodies are bounded, and the
service binds 127.0.0.1 unless told otherwise. ``GET /health`` answers without a token.

``floor tools`` runs it in the foreground (:func:`serve_tools`); ``floor run`` uses the one
``TOOLS_URL`` names when it answers, and otherwise starts one on a thread of its own process
(:class:`ToolServiceThread`), so nothing extra is needed to run the floor.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import AsyncIterator

from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from floor.errors import ConfigurationError
from floor.market import MarketData
from floor.settings import Settings
from floor.tool_access import SERVER_KINDS
from servers.auth import GrantLookup, TokenBindings, TurnTokenVerifier
from servers.launch import build_server

log = logging.getLogger(__name__)

SERVICE_NAME = "trading-floor-tools"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host and Origin checks: loopback names on any port, plus TOOLS_ALLOWED_HOSTS."""
    extra = [h.strip() for h in (settings.tools_allowed_hosts or "").split(",") if h.strip()]
    hosts = [f"{h}:*" for h in LOOPBACK_HOSTS] + [h if ":" in h else f"{h}:*" for h in extra]
    origins = [f"http://{h}:*" for h in LOOPBACK_HOSTS]
    for host in extra:
        bare = host.split(":", 1)[0]
        origins += [f"https://{bare}", f"https://{bare}:*", f"http://{bare}:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class _ClosedStreamFilter(logging.Filter):
    """Drops the SDK's traceback for a session's event stream closed as the session ends.

    A client ending its session (DELETE) while its GET event stream is open makes the SDK log
    ``ClosedResourceError`` with a traceback at ERROR: the normal end of every turn, not a fault.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        import anyio

        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, anyio.ClosedResourceError | anyio.BrokenResourceError)


class _NoEventStream:
    """ASGI middleware answering GET on an MCP endpoint with 405, as the transport allows.

    The floor's tools never send a client anything it did not ask for, so a standing event stream
    per session would only cost a request, a task and a token check, and end in the SDK's
    ``ClosedResourceError`` when the session closes.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith("/mcp/"):
            response = PlainTextResponse(
                "this endpoint offers no event stream", status_code=405, headers={"Allow": "POST, DELETE"}
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_tool_app(settings: Settings, engine: Engine, market: MarketData) -> Starlette:
    """The ASGI app serving every server kind at ``/mcp/<kind>/`` behind turn tokens."""
    sdk_log = logging.getLogger("mcp.server.streamable_http")
    if not any(isinstance(f, _ClosedStreamFilter) for f in sdk_log.filters):
        sdk_log.addFilter(_ClosedStreamFilter())
    bindings = TokenBindings(engine, market, settings)
    grants = GrantLookup(engine)
    security = transport_security(settings)
    servers = []
    routes: list[Route | Mount] = [Route("/health", _health, methods=["GET"])]
    for kind in SERVER_KINDS:
        server = build_server(
            kind,
            bindings,
            settings,
            token_verifier=TurnTokenVerifier(grants, kind),
            # Tokens are issued by the floor itself; no OAuth metadata routes are served.
            auth=AuthSettings(issuer_url="http://127.0.0.1", resource_server_url=None),
            transport_security=security,
            json_response=True,
            streamable_http_path="/",
            max_request_body_size=settings.tools_max_request_bytes,
        )
        servers.append(server)
        routes.append(Mount(f"/mcp/{kind}", app=server.streamable_http_app()))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A mounted app's own lifespan never runs: start every server's session manager here.
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(grants.running())
            for server in servers:
                await stack.enter_async_context(server.session_manager.run())
            yield

    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(_NoEventStream)])


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": SERVICE_NAME, "servers": list(SERVER_KINDS)})


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0 = any free port), or a clear error if it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it a kept-alive connection waits ~40 ms on each
    # answer (Nagle's algorithm against the client's delayed ACK).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"the tool service cannot listen on {host}:{port} ({exc.strerror}); "
            "set TOOLS_PORT or --port to a free port"
        ) from exc
    sock.listen(128)
    return sock


def _uvicorn_server(app: Starlette, *, own_process: bool):
    """A uvicorn server for ``app``; only one that has its process to itself sets up logging.

    uvicorn sets it up with ``logging.config.dictConfig``, which flushes and closes every handler
    of the process while holding logging's module lock. Next to threads that log (`floor run`
    starts the service as its first turns begin, while the flow logs to Prefect) that can deadlock
    the process: a thread inside a handler's emit, the handler's lock held, asks for a logger (as
    Prefect's API log handler does when it starts a worker) and waits for the module lock, while
    dictConfig holds it and waits for that handler's lock. A server on a thread leaves the
    process's logging as it is; its warnings go to the handlers already there.
    """
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
        log_config=uvicorn.config.LOGGING_CONFIG if own_process else None,
    )
    return uvicorn.Server(config)


class ToolServiceThread:
    """The tool service on a background thread of this process, until :meth:`stop`."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = bind_socket(host, port)
        bound_host, bound_port = self._socket.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"
        self._server = _uvicorn_server(app, own_process=False)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="tool-service", daemon=True
        )

    def start(self, timeout: float = 30.0) -> ToolServiceThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the tool service did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> ToolServiceThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def is_serving(url: str, timeout: float = 2.0) -> bool:
    """Whether a tool service answers its health check at ``url``."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout) as response:
            return response.status == 200 and SERVICE_NAME.encode() in response.read(1000)
    except (OSError, ValueError):
        return False


def start_in_process(settings: Settings, database_url: str) -> ToolServiceThread:
    """A tool service for this process only, on a free loopback port, with its own connections."""
    from floor.database import create_floor_engine
    from floor.market.factory import build_market

    engine = create_floor_engine(database_url, pool_size=settings.max_concurrent_turns + 2)
    return ToolServiceThread(build_tool_app(settings, engine, build_market(settings))).start()


def serve_tools(settings: Settings, host: str, port: int) -> None:
    """``floor tools``: serve until SIGINT or SIGTERM (uvicorn stops gracefully on both)."""
    from floor.database import connect
    from floor.market.factory import build_market

    engine = connect(settings)
    sock = bind_socket(host, port)
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.tools_allowed_hosts:
        log.warning(
            "the tool service listens on %s but TOOLS_ALLOWED_HOSTS is empty: only requests addressed to "
            "a loopback name pass the Host check",
            host,
        )
    shown = f"[{host}]" if ":" in host else host
    print(f"Tool service: http://{shown}:{sock.getsockname()[1]}/mcp/<kind>/ (Ctrl+C to stop)", flush=True)
    app = build_tool_app(settings, engine, build_market(settings))
    _uvicorn_server(app, own_process=True).run(sockets=[sock])
