"""The lifecycle every fake shares: a threading HTTP server on a free 127.0.0.1 port, in a daemon thread."""

from __future__ import annotations

import http.server
import threading
from typing import Self


class LoopbackHTTPServer:
    """Start with :meth:`start` or ``with``; subclasses say which request handler answers."""

    def __init__(self) -> None:
        self._server: http.server.ThreadingHTTPServer | None = None
        self.port = 0  # kept after stop, for assertions on URLs

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
