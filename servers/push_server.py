"""The push MCP server: one ``push(message)`` tool that notifies the floor's owner through apprise."""

from __future__ import annotations

from mcp.server.fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from floor.errors import ConfigurationError
from floor.notify import NotificationRejected, Notifier, PushResult, build_notifier
from floor.settings import Settings
from servers.binding import BindingSource, TraderBinding, bound_tools
from servers.strict_tools import StrictFastMCP


class PushOutcome(BaseModel):
    """What became of one push."""

    kind: str = "push"
    status: str = Field(description="'sent', 'not configured' or 'failed'.")
    detail: str


class UnusableNotifier:
    """Stands in for a notifier whose configuration is wrong: every push is refused with why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def push(self, message: str, *, title: str = "Trading Floor") -> PushResult:
        raise NotificationRejected(f"notifications are misconfigured: {self.reason}")


def notifier_for(settings: Settings) -> Notifier | UnusableNotifier:
    """The configured notifier; a bad target refuses pushes instead of stopping every other server."""
    try:
        return build_notifier(settings)
    except ConfigurationError as exc:
        return UnusableNotifier(str(exc))


def build_push_server(
    notifier: Notifier | UnusableNotifier, source: BindingSource, **options: object
) -> StrictFastMCP:
    """A FastMCP server whose pushes are titled with the bound trader's name."""
    server = StrictFastMCP("push_server", log_level="WARNING", **options)

    @bound_tools(server, source)
    def push(binding: TraderBinding, message: str) -> PushOutcome:
        """Send a short push notification to the floor's owner, e.g. a summary of the trades you made.

        Args:
            message: The text to send, at most 1,024 characters.
        """
        try:
            result = notifier.push(message, title=f"Trading Floor: {binding.trader}")
        except NotificationRejected as exc:
            raise ToolError(f"Not sent: {exc}") from exc
        return PushOutcome(status=result.status, detail=result.detail)

    return server
