"""Who may ask the dashboard anything: HTTP basic auth, checked before the app sees the request.

:class:`BasicAuthGate` wraps the Flask server's WSGI app, so every route (pages, callbacks,
assets, component suites) is behind it and nothing of the request — not its body, not its route
— is read before the credentials pass. Anything missing or malformed is a plain 401 with a
``WWW-Authenticate: Basic`` challenge; the user and the password are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable

REALM = "Trading Floor"
_CHALLENGE = [
    ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'),
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Cache-Control", "no-store"),
]
_BODY = b"401 Unauthorized: this dashboard needs a user and password.\n"

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def _digest(value: bytes) -> bytes:
    # Comparing fixed-size digests keeps the compare constant-time in the length of the secret too.
    return hashlib.sha256(value).digest()


def basic_credentials(header: str | None) -> tuple[bytes, bytes] | None:
    """The (user, password) of an ``Authorization: Basic …`` header, as UTF-8 bytes; None if malformed.

    Malformed: missing, another scheme, no token, bad base64, not UTF-8, or no colon.
    """
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.encode("ascii"), validate=True)
        decoded.decode("utf-8")  # the charset our challenge announces
    except (UnicodeError, binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    return user, password


class BasicAuthGate:
    """A WSGI middleware that lets a request through only with the one configured user and password."""

    def __init__(self, app: WSGIApp, user: str, password: str) -> None:
        if not user or not password:
            raise ValueError("basic auth needs a non-empty user and password")
        self.app = app
        self._user = _digest(user.encode("utf-8"))
        self._password = _digest(password.encode("utf-8"))

    def allows(self, header: str | None) -> bool:
        credentials = basic_credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        # Both compares always run, so timing does not tell a wrong user from a wrong password.
        user_ok = hmac.compare_digest(_digest(user), self._user)
        password_ok = hmac.compare_digest(_digest(password), self._password)
        return user_ok & password_ok

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.allows(environ.get("HTTP_AUTHORIZATION")):
            return self.app(environ, start_response)
        start_response("401 UNAUTHORIZED", [*_CHALLENGE, ("Content-Length", str(len(_BODY)))])
        return [_BODY]
