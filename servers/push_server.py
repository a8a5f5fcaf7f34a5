"""The push MCP server: one ``push(message)`` tool that notifies the floor's owner through apprise."""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from floor.notify import NotificationRejected, Notifier
from servers.binding import BindingSource, TraderBinding, bound_tools


class PushOutcome(BaseModel):
    """What became of one push."""

    kind: str = "push"
    status: str = Field(description="'sent', 'not configured' or 'failed'.")
    detail: str


def build_push_server(notifier: Notifier, source: BindingSource, **options: object) -> FastMCP:
    """A FastMCP server whose pushes are titled with the bound trader's name."""
    server = FastMCP("push_server", log_level="WARNING", **options)

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
