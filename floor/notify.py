"""Push notifications through apprise: Pushover from its two settings, or any apprise URL.

A push says truthfully what happened: ``sent`` (every target accepted it), ``not configured``
(no target is set) or ``failed`` (some target refused it or could not be reached). Results and
the reasons in them never contain a key, token or URL secret.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from floor.errors import ConfigurationError, FloorError
from floor.settings import Settings

MAX_MESSAGE_CHARS = 1_024  # Pushover's own limit, and plenty for a trade summary
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0

PushStatus = Literal["sent", "not configured", "failed"]


class NotificationRejected(FloorError):
    """The message itself is unusable (empty or too long); nothing was sent."""


@dataclass(frozen=True)
class PushResult:
    status: PushStatus
    detail: str


def _url_secrets(url: str) -> set[str]:
    """Parts of an apprise URL that may be credentials: user, password, path and query values."""
    parts = urlsplit(url)
    found = {url, parts.username or "", parts.password or ""}
    found.update(unquote(segment) for segment in parts.path.split("/"))
    found.update(value for _, value in parse_qsl(parts.query))
    found.add(parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else "")
    return {s for s in found if len(s) >= 4}


def _split_urls(raw: str | None) -> list[str]:
    return [u for u in re.split(r"[\s,]+", raw or "") if u]


class Notifier:
    """Sends one message to every configured apprise target."""

    def __init__(self, targets: list, secrets: Iterable[str] = ()) -> None:
        self._targets = targets
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    @property
    def configured(self) -> bool:
        return bool(self._targets)

    @property
    def services(self) -> list[str]:
        return [str(t.service_name or type(t).__name__) for t in self._targets]

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def push(self, message: str, *, title: str = "Trading Floor") -> PushResult:
        """Send ``message`` to every target; a bad message raises :class:`NotificationRejected`."""
        body = str(message).strip()
        if not body:
            raise NotificationRejected("the message is empty")
        if len(body) > MAX_MESSAGE_CHARS:
            raise NotificationRejected(
                f"the message is {len(body)} characters; at most {MAX_MESSAGE_CHARS} fit"
            )
        if not self._targets:
            return PushResult(
                "not configured",
                "no notification target is set (PUSHOVER_USER/PUSHOVER_TOKEN or APPRISE_URLS)",
            )
        sent, failed = [], []
        for target, service in zip(self._targets, self.services, strict=True):
            ok, reason = self._send(target, body, title)
            if ok:
                sent.append(service)
            else:
                failed.append(f"{service} ({reason})" if reason else service)
        if not failed:
            return PushResult("sent", f"sent to {', '.join(sent)}")
        detail = f"not delivered to {', '.join(failed)}"
        if sent:
            detail += f"; sent to {', '.join(sent)}"
        return PushResult("failed", detail)

    def _send(self, target, body: str, title: str) -> tuple[bool, str]:
        import apprise

        logger = logging.getLogger("apprise")
        propagate, logger.propagate = logger.propagate, False  # its lines may carry secrets
        try:
            with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
                try:
                    ok = bool(target.notify(body=body, title=title))
                except Exception as exc:  # noqa: BLE001 - a plugin crash is a failed delivery
                    ok, captured_extra = False, f"{type(exc).__name__}: {exc}"
                else:
                    captured_extra = ""
                lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        finally:
            logger.propagate = propagate
        reason = captured_extra or (lines[-1] if lines else "")
        return ok, self.redact(reason.strip())[:300]


def build_notifier(settings: Settings) -> Notifier:
    """A notifier for every target the settings name (none: a notifier that is not configured)."""
    import apprise
    from apprise.plugins.pushover import NotifyPushover

    targets, secrets = [], []
    if bool(settings.pushover_user) != bool(settings.pushover_token):
        raise ConfigurationError("Pushover needs both PUSHOVER_USER and PUSHOVER_TOKEN")
    if settings.pushover_user and settings.pushover_token:
        try:
            targets.append(NotifyPushover(user_key=settings.pushover_user, token=settings.pushover_token))
        except TypeError as exc:  # apprise checks the keys' shape; its message names no secret
            raise ConfigurationError("PUSHOVER_USER or PUSHOVER_TOKEN is not a valid Pushover key") from exc
        secrets += [settings.pushover_user, settings.pushover_token]
    for position, url in enumerate(_split_urls(settings.apprise_urls), start=1):
        plugin = apprise.Apprise.instantiate(url)
        if not plugin:
            # The URL itself may hold a secret: say which entry, never what it is.
            raise ConfigurationError(f"APPRISE_URLS entry {position} is not a URL apprise can notify")
        targets.append(plugin)
        secrets += _url_secrets(url)
    for target in targets:
        target.socket_connect_timeout = CONNECT_TIMEOUT_SECONDS
        target.socket_read_timeout = READ_TIMEOUT_SECONDS
    return Notifier(targets, secrets)
